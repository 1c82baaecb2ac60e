//! Property tests: the layout parser and the simulated bootloader never panic, whatever they get,
//! and the parser reads back what it prints.
#![cfg(not(target_arch = "wasm32"))]

use futures_executor::block_on;
use key_rescue::dfu::{Access, Dfu, Erase, MemoryLayout, Region, Segment};
use key_rescue::sim::device::{Platform, SimDevice};
use key_rescue::usb::{ControlSetup, Recipient, RequestType, Transport};
use proptest::prelude::*;

fn letter() -> impl Strategy<Value = char> {
    prop::sample::select(vec!['a', 'b', 'c', 'd', 'e', 'f', 'g'])
}

/// One segment as generated: count, size, multiplier letter, type letter.
type SegmentSpec = (u32, u32, char, char);

/// Layout strings in the grammar, with padding, leading zeros and every multiplier, and the
/// regions' segments they were made from.
fn layout_text() -> impl Strategy<Value = (String, Vec<Vec<SegmentSpec>>)> {
    let segment = (
        1u32..300,
        1u32..600,
        prop::sample::select(vec!['B', 'K', 'M']),
        letter(),
    );
    let region = prop::collection::vec(segment, 1..5);
    (
        "[A-Za-z][A-Za-z :]{0,20}",
        " {0,4}",
        prop::collection::vec(region, 1..4),
    )
        .prop_map(|(name, pad, regions)| {
            let mut text = format!("@{name}{pad}");
            let mut base: u64 = 0;
            for segs in &regions {
                text.push_str(&format!("/0x{base:08X}/"));
                let parts: Vec<String> = segs
                    .iter()
                    .map(|(n, s, m, l)| format!("{n:03}*{s:03}{m}{l}"))
                    .collect();
                text.push_str(&parts.join(","));
                base += 0x1000_0000;
            }
            (text, regions)
        })
}

proptest! {
    #[test]
    fn parser_never_panics(text in "\\PC{0,80}") {
        let _ = MemoryLayout::parse(&text);
    }

    #[test]
    fn parser_never_panics_on_near_valid_strings(text in "@[ -~]{0,10}(/0x[0-9A-Fa-f]{0,9}/([0-9]{0,4}\\*[0-9]{0,4}[BKM ]?[a-h]?,?){0,4}){0,3}/? {0,3}") {
        if let Ok(layout) = MemoryLayout::parse(&text) {
            prop_assert_eq!(MemoryLayout::parse(&layout.to_string()).unwrap(), layout);
        }
    }

    #[test]
    fn generated_layouts_parse_to_every_region_and_segment((text, regions) in layout_text()) {
        let layout = MemoryLayout::parse(&text);
        // Regions 0x10000000 apart can overflow only if a region is larger than that.
        let Ok(layout) = layout else { return Ok(()); };
        prop_assert_eq!(layout.regions.len(), regions.len());
        for (region, segs) in layout.regions.iter().zip(&regions) {
            prop_assert_eq!(region.segments.len(), segs.len());
            let mut at = u64::from(region.start);
            for (seg, &(n, s, m, l)) in region.segments.iter().zip(segs) {
                let mult = match m { 'B' => 1, 'K' => 1024, _ => 1024 * 1024 };
                prop_assert_eq!(u64::from(seg.start), at);
                prop_assert_eq!(seg.count, n);
                prop_assert_eq!(u64::from(seg.sector_size), u64::from(s) * mult);
                prop_assert_eq!(seg.access, Access::from_letter(l).unwrap());
                at = seg.end();
            }
        }
        prop_assert_eq!(MemoryLayout::parse(&layout.to_string()).unwrap(), layout);
    }

    #[test]
    fn sectors_in_covers_the_range_exactly(start in 0u32..0x30_0000, len in 0u32..0x10_0000) {
        let layout = MemoryLayout {
            name: "x".into(),
            regions: vec![Region { start: 0, segments: vec![
                Segment { start: 0, count: 3, sector_size: 0x4000, access: Access::from_letter('g').unwrap() },
                Segment { start: 0xC000, count: 20, sector_size: 0x2_0000, access: Access::from_letter('a').unwrap() },
            ]}],
        };
        if let Ok(sectors) = layout.sectors_in(start, len)
            && len > 0 {
                prop_assert!(sectors[0].start <= start);
                let last = sectors.last().unwrap();
                prop_assert!(u64::from(last.start) + u64::from(last.size) >= u64::from(start) + u64::from(len));
                for w in sectors.windows(2) {
                    prop_assert_eq!(w[0].start + w[0].size, w[1].start);
                }
            }
    }
}

#[derive(Debug, Clone)]
struct Req {
    dir_in: bool,
    kind: u8,
    recipient: u8,
    request: u8,
    value: u16,
    index: u16,
    len: u16,
    data: Vec<u8>,
}

fn request() -> impl Strategy<Value = Req> {
    (
        any::<bool>(),
        0u8..4,
        0u8..4,
        prop_oneof![0u8..12, Just(0xEE), any::<u8>()],
        prop_oneof![
            0u16..5,
            Just(0x0200),
            Just(0x0300),
            Just(0x0306),
            Just(0x2100),
            any::<u16>()
        ],
        prop_oneof![Just(0u16), Just(4), Just(5), any::<u16>()],
        prop_oneof![0u16..10, Just(4096), Just(4097), any::<u16>()],
        prop::collection::vec(any::<u8>(), 0..6),
        prop_oneof![
            Just(0usize),
            Just(0usize),
            Just(4096),
            Just(5000),
            0usize..100
        ],
    )
        .prop_map(
            |(dir_in, kind, recipient, request, value, index, len, head, extra)| {
                let mut data = head;
                data.resize(data.len() + extra, 0xA5);
                Req {
                    dir_in,
                    kind,
                    recipient,
                    request,
                    value,
                    index,
                    len,
                    data,
                }
            },
        )
}

fn setup(r: &Req) -> ControlSetup {
    ControlSetup {
        request_type: [
            RequestType::Standard,
            RequestType::Class,
            RequestType::Vendor,
            RequestType::Class,
        ][usize::from(r.kind)],
        recipient: [
            Recipient::Device,
            Recipient::Interface,
            Recipient::Endpoint,
            Recipient::Other,
        ][usize::from(r.recipient)],
        request: r.request,
        value: r.value,
        index: r.index,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn simulator_never_panics_on_any_request_sequence(
        platform in prop::sample::select(Platform::ALL.to_vec()),
        reqs in prop::collection::vec(request(), 0..60),
    ) {
        let mut dev = SimDevice::builder(platform).build();
        for r in &reqs {
            let s = setup(r);
            if r.dir_in {
                if let Ok(reply) = block_on(dev.control_in(s, r.len)) {
                    prop_assert!(reply.len() <= usize::from(r.len));
                }
            } else {
                let _ = block_on(dev.control_out(s, &r.data));
            }
        }
        // Whatever happened, a fresh DFU session either works or fails with a typed error.
        if !dev.disconnected() {
            let _ = block_on(async {
                let mut dfu = Dfu::open(&mut dev, 0, 1).await?;
                dfu.write_verified(34, &[1, 2, 3], Erase::Never).await
            });
        }
    }
}
