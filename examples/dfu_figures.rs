//! Prints the control transfers and bytes the DFU host needs against the simulated Photon: to
//! open the DCT alternate, to read the key slots, to write and verify a 612-byte key, and to leave.
//!
//! Run with `cargo run --example dfu_figures`.

use futures_executor::block_on;
use key_rescue::dfu::{Dfu, Erase, Error};
use key_rescue::sim::device::SimDevice;
use key_rescue::usb::{Counting, TransferCounts};

fn row(what: &str, c: TransferCounts) {
    println!(
        "{what:<58} {:>4} transfers {:>6} bytes in {:>6} bytes out",
        c.transfers, c.bytes_in, c.bytes_out
    );
}

fn main() -> Result<(), Error> {
    let key: Vec<u8> = (0..612u32).map(|i| (i * 31 + 7) as u8).collect();
    let mut dev = Counting::new(SimDevice::photon());

    block_on(async {
        let c0 = dev.counts();
        let mut dfu = Dfu::open(&mut dev, 0, 1).await?;
        let c1 = dfu.transport_ref().counts();
        row(
            "open alt 1 (select, configuration descriptor, to idle)",
            c1.since(c0),
        );

        dfu.read(34, 612).await?;
        let c2 = dfu.transport_ref().counts();
        row("read private key (612 @ 34)", c2.since(c1));
        dfu.read(2082, 512).await?;
        let c3 = dfu.transport_ref().counts();
        row("read server key region (512 @ 2082)", c3.since(c2));
        row("read both key slots, two reads", c3.since(c1));
        dfu.read(34, 2082 + 512 - 34).await?;
        let c4 = dfu.transport_ref().counts();
        row("read both key slots as one range (2560 @ 34)", c4.since(c3));

        dfu.write(34, &key, Erase::Never).await?;
        let c5 = dfu.transport_ref().counts();
        row("write 612-byte key, no erase", c5.since(c4));
        dfu.verify(34, &key).await?;
        let c6 = dfu.transport_ref().counts();
        row("verify 612-byte key (read back)", c6.since(c5));
        dfu.write_verified(34, &key, Erase::Never).await?;
        let c7 = dfu.transport_ref().counts();
        row("write + verify 612-byte key (write_verified)", c7.since(c6));
        dfu.write_verified(34, &key, Erase::Sectors).await?;
        let c8 = dfu.transport_ref().counts();
        row(
            "write + verify 612-byte key, erasing first (no-op on alt 1)",
            c8.since(c7),
        );

        let outcome = dfu.leave(None).await?;
        let c9 = dev.counts();
        row(&format!("leave ({outcome:?})"), c9.since(c8));
        Ok::<_, Error>(())
    })?;
    println!("device left DFU: {}", dev.inner().left_dfu());
    Ok(())
}
