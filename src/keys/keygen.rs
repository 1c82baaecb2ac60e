//! RSA key generation with a small-factor sieve built at run time.
//!
//! The primes are made the way `rsa::PrivateKey::new` makes them (rsa 0.10,
//! `generate_multi_prime_key_with_exp` with two primes): each starts from a random odd number of
//! half the modulus length with its top two bits set, so that the modulus has exactly the requested
//! length, and is the first prime at or above it (start, start + 2, …; a fresh start when the search
//! would outgrow the length). Numbers with a small factor are skipped, the others are tested with
//! `crypto_primes::is_prime` (Miller-Rabin to base 2 and a strong Lucas test, BPSW), and
//! `rsa::PrivateKey::from_primes` makes the key. Only the sieve differs: rsa's uses crypto-primes'
//! precomputed tables of the first 2048 primes and their reciprocals (about 30 KB of the gzipped
//! page); this one finds the same 2047 odd primes with a sieve of Eratosthenes for each key, divides
//! the random start by them once, and then strikes out their multiples a window of odd numbers at a
//! time.

use super::KeyError;
use crypto_primes::{Flavor, is_prime};
use getrandom::rand_core::TryRng;
use rsa::BoxedUint;
use rsa::traits::PublicKeyParts;
use zeroize::{Zeroize, Zeroizing};

/// The public exponent: the firmware hard-codes 65537, and it is rsa's default.
const PUBLIC_EXPONENT: u64 = 65537;

/// The sieve uses the odd primes below this bound: 3 to 17863, the same 2047 primes as the table of
/// crypto-primes that `rsa::PrivateKey::new` sieves with.
const SIEVE_BOUND: u16 = 17864;

/// The shortest key made: rsa's own minimum, `rsa::PublicKey::MIN_SIZE`.
const MIN_BITS: u32 = 1024;

/// How many pairs of primes to try before giving up. rsa refuses a pair only when 65537 divides
/// p - 1 or q - 1 (about one pair in 33,000), so reaching this limit means something else is wrong.
const MAX_PRIME_PAIRS: u32 = 64;

/// Generates an RSA key with a modulus of exactly `bits` bits and e = 65537, from
/// `getrandom::SysRng` (the browser's `crypto.getRandomValues` on wasm32). Fails with
/// `WrongKeySize` below 1024 bits (rsa's minimum), with `Random` when the random source fails.
pub fn generate_rsa_key(bits: u32) -> Result<rsa::PrivateKey, KeyError> {
    if bits < MIN_BITS {
        return Err(KeyError::WrongKeySize {
            bits,
            expected: MIN_BITS,
        });
    }
    let small_primes = odd_primes_below(SIEVE_BOUND);
    // As rsa: the first prime takes half the bits, the second what is left.
    let p_bits = bits / 2;
    let q_bits = bits - p_bits;
    let mut refused = String::new();
    for _ in 0..MAX_PRIME_PAIRS {
        let mut p = random_prime(p_bits, &small_primes)?;
        let mut q = random_prime(q_bits, &small_primes)?;
        if p == q {
            p.zeroize();
            q.zeroize();
            continue;
        }
        // Computes n and d (with Euler's totient, as `PrivateKey::new`), validates and precomputes
        // the CRT values. The key zeroizes its primes when dropped; on an error rsa drops them
        // without, as its own `PrivateKey::new` would.
        match rsa::PrivateKey::from_primes(vec![p, q], BoxedUint::from(PUBLIC_EXPONENT)) {
            Ok(key) if key.n().bit_width() == bits => return Ok(key),
            Ok(_) => refused = format!("the modulus is not {bits} bits long"),
            Err(e) => refused = e.to_string(),
        }
    }
    Err(KeyError::PrimesGaveUp {
        pairs: MAX_PRIME_PAIRS,
        reason: refused,
    })
}

/// A random prime of exactly `bits` bits with its top two bits set.
fn random_prime(bits: u32, small_primes: &[u16]) -> Result<BoxedUint, KeyError> {
    let len = bits.div_ceil(8) as usize;
    let mut bytes = Zeroizing::new(vec![0u8; len]);
    loop {
        getrandom::SysRng
            .try_fill_bytes(&mut bytes)
            .map_err(|e| KeyError::Random(e.to_string()))?;
        // Keep `bits` bits, then make the number odd with its top two bits set.
        bytes[0] &= 0xFF >> (len * 8 - bits as usize);
        for bit in [0, bits - 2, bits - 1] {
            bytes[len - 1 - (bit / 8) as usize] |= 1 << (bit % 8);
        }
        let headroom = headroom(&bytes, bits);
        let mut start = BoxedUint::from_be_slice(&bytes, bits)
            .map_err(|e| KeyError::Encoding(format!("random start: {e}")))?;
        let found = search(&start, headroom, small_primes);
        start.zeroize();
        if let Some(prime) = found {
            return Ok(prime);
        }
        // No prime between the start and 2^bits: start again elsewhere, as rsa does.
    }
}

/// The first prime in `start, start + 2, …, start + headroom`, if any.
fn search(start: &BoxedUint, headroom: u64, small_primes: &[u16]) -> Option<BoxedUint> {
    let mut sieve = Sieve::new(start, small_primes);
    let mut has_factor = Zeroizing::new(vec![false; WINDOW]);
    let mut window_offset = 0u64;
    loop {
        sieve.sift(&mut has_factor);
        for (i, &sieved_out) in has_factor.iter().enumerate() {
            if sieved_out {
                continue;
            }
            let offset = window_offset + 2 * i as u64;
            if offset > headroom {
                return None;
            }
            let mut candidate = start + offset;
            if is_prime(Flavor::Any, &candidate) {
                return Some(candidate);
            }
            candidate.zeroize();
        }
        window_offset = window_offset.checked_add(2 * WINDOW as u64)?;
        if window_offset > headroom {
            return None;
        }
        sieve.next_window();
    }
}

/// How far an odd number of `bits` bits (big-endian, no more bytes than needed) may grow by steps
/// of two and keep its length: `2^bits - 1 - start`, saturated at `u64::MAX`.
fn headroom(bytes: &[u8], bits: u32) -> u64 {
    let len = bytes.len();
    let mut low = [0u8; 8];
    if len <= 8 {
        low[8 - len..].copy_from_slice(bytes);
        return (u64::MAX >> (64 - bits)) - u64::from_be_bytes(low);
    }
    // Above the low 64 bits, the number must be all ones up to its length for the room to fit.
    let (high, rest) = bytes.split_at(len - 8);
    let top_mask = 0xFFu8 >> (len * 8 - bits as usize);
    let high_all_ones = high
        .iter()
        .enumerate()
        .all(|(i, &b)| b == if i == 0 { top_mask } else { 0xFF });
    if !high_all_ones {
        return u64::MAX;
    }
    low.copy_from_slice(rest);
    !u64::from_be_bytes(low)
}

/// The odd primes below `bound`, by a sieve of Eratosthenes over the odd numbers.
fn odd_primes_below(bound: u16) -> Vec<u16> {
    let bound = usize::from(bound);
    // composite[i] is for 2i + 1.
    let mut composite = vec![false; bound / 2];
    let mut primes = Vec::new();
    for i in 1..composite.len() {
        if composite[i] {
            continue;
        }
        let p = 2 * i + 1;
        primes.push(p as u16);
        let mut multiple = p * p;
        while multiple < bound {
            composite[multiple / 2] = true;
            multiple += 2 * p;
        }
    }
    primes
}

/// How many odd numbers the sieve looks at in one go. A prime of 512 bits is found after about
/// 180 of them on average, one of 1024 bits after about 360.
const WINDOW: usize = 1024;

/// A sieve over windows of [`WINDOW`] consecutive odd numbers, from an odd start. It keeps the
/// residue of the window's first number modulo each small prime: the big number is divided once,
/// at the start (with u64 arithmetic, 32 bits at a time); a window costs one step per prime and one
/// per multiple struck out, and moving on costs one addition and remainder per prime.
struct Sieve<'a> {
    primes: &'a [u16],
    residues: Zeroizing<Vec<u16>>,
}

impl<'a> Sieve<'a> {
    /// A sieve whose first window starts at the odd number `start`. Primes not below `start` are
    /// left out, so a number equal to a small prime is never taken for a multiple of it.
    fn new(start: &BoxedUint, primes: &'a [u16]) -> Self {
        let words = start.as_words();
        let primes = if start.bit_width_vartime() <= 16 {
            let low = words.first().map_or([0; 2], |w| {
                let bytes = w.to_le_bytes();
                [bytes[0], bytes[1]]
            });
            let small = u16::from_le_bytes(low);
            &primes[..primes.partition_point(|&p| p < small)]
        } else {
            primes
        };
        // The start in 32-bit chunks, most significant first, whatever the word size.
        let mut chunks = Zeroizing::new(Vec::with_capacity(words.len() * 2));
        for word in words.iter().rev() {
            for chunk in word.to_be_bytes().chunks_exact(4) {
                chunks.push(u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]));
            }
        }
        // r < p < 2^16, so r * 2^32 + chunk fits a u64.
        let residues = primes
            .iter()
            .map(|&p| {
                let p = u64::from(p);
                let r = chunks
                    .iter()
                    .fold(0u64, |r, &chunk| ((r << 32) | u64::from(chunk)) % p);
                r as u16
            })
            .collect();
        Self {
            primes,
            residues: Zeroizing::new(residues),
        }
    }

    /// Marks the numbers of the current window that a small prime divides: `has_factor[i]` is for
    /// the window's first number plus `2 i`.
    fn sift(&self, has_factor: &mut [bool]) {
        has_factor.fill(false);
        for (&r, &p) in self.residues.iter().zip(self.primes) {
            let (r, p) = (usize::from(r), usize::from(p));
            // The first i with r + 2 i ≡ 0 (mod p): i ≡ -r / 2, and 1/2 ≡ (p + 1) / 2 (p is odd).
            let first = (p - r) % p * p.div_ceil(2) % p;
            for i in (first..has_factor.len()).step_by(p) {
                has_factor[i] = true;
            }
        }
    }

    /// Moves on to the next window, [`WINDOW`] odd numbers on.
    fn next_window(&mut self) {
        for (r, &p) in self.residues.iter_mut().zip(self.primes) {
            let step = (2 * WINDOW % usize::from(p)) as u16;
            *r = ((u32::from(*r) + u32::from(step)) % u32::from(p)) as u16;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sieve's verdicts on the first `count` odd numbers from `start`, window by window: true
    /// where no small prime divides the number.
    fn verdicts(start: &BoxedUint, primes: &[u16], count: usize) -> Vec<bool> {
        let mut sieve = Sieve::new(start, primes);
        let mut has_factor = vec![false; WINDOW];
        let mut out = Vec::with_capacity(count + WINDOW);
        while out.len() < count {
            sieve.sift(&mut has_factor);
            out.extend(has_factor.iter().map(|&f| !f));
            sieve.next_window();
        }
        out.truncate(count);
        out
    }

    /// 2^511 + 2^510 + 1: a 512-bit odd start with its top two bits set, as `random_prime` makes
    /// them.
    fn big_start() -> BoxedUint {
        let mut bytes = [0u8; 64];
        bytes[0] = 0xC0;
        bytes[63] = 1;
        BoxedUint::from_be_slice(&bytes, 512).unwrap()
    }

    /// Walks a sieve from the odd `start` over `count` odd numbers and checks each verdict: a
    /// number is sieved out exactly when it has an odd factor below both the start and the bound
    /// (the primes the sieve may use), and never when it is prime.
    fn check_walk(start: u64, count: usize) {
        let primes = odd_primes_below(SIEVE_BOUND);
        let limit = start.min(u64::from(SIEVE_BOUND));
        for (n, maybe) in
            (start..)
                .step_by(2)
                .zip(verdicts(&BoxedUint::from(start), &primes, count))
        {
            let has_factor = (3..limit).step_by(2).any(|d| n.is_multiple_of(d));
            assert_eq!(maybe, !has_factor, "{n} (start {start})");
            if is_prime(Flavor::Any, &BoxedUint::from(n)) {
                assert!(maybe, "{n} is prime but was sieved out");
            }
        }
    }

    #[test]
    fn eratosthenes_finds_the_same_primes_as_is_prime() {
        let primes = odd_primes_below(SIEVE_BOUND);
        assert_eq!(primes.len(), 2047);
        assert_eq!(primes[..6], [3, 5, 7, 11, 13, 17]);
        assert_eq!(primes.last(), Some(&17863));
        let expected: Vec<u16> = (3..SIEVE_BOUND)
            .filter(|&n| is_prime(Flavor::Any, &BoxedUint::from(u64::from(n))))
            .collect();
        assert_eq!(primes, expected);
    }

    #[test]
    fn the_sieve_never_rejects_a_prime_and_rejects_every_small_factor() {
        check_walk(3, 2_000);
        check_walk(101, 10_000);
        check_walk(u64::from(SIEVE_BOUND) + 1, 30_000);
        check_walk((1 << 40) + 1, 5_000);
    }

    #[test]
    fn the_sieve_works_on_big_numbers() {
        let primes = odd_primes_below(SIEVE_BOUND);
        // The numbers from `big_start`, against is_prime and trial division by the small primes
        // through crypto-bigint's own remainder.
        let start = big_start();
        for (i, maybe) in verdicts(&start, &primes, 3000).into_iter().enumerate() {
            let n = &start + 2 * i as u64;
            let has_factor = primes.iter().any(|&p| {
                let p = BoxedUint::from(u64::from(p)).to_nz().into_option().unwrap();
                n.rem_vartime(&p).is_zero().to_bool()
            });
            assert_eq!(maybe, !has_factor, "start + {}", 2 * i);
            if is_prime(Flavor::Any, &n) {
                assert!(maybe);
            }
        }
    }

    #[test]
    fn known_composites_are_rejected() {
        let primes = odd_primes_below(SIEVE_BOUND);
        // Multiples of the largest sieve primes, growing past 64 bits (to 145; no wrapping in 256).
        let mut product = BoxedUint::from_be_slice(&(17863u64 * 17851).to_be_bytes(), 256).unwrap();
        for p in [3u64, 65537, 0xFFFF_FFFB, 0xFFFF_FFFF_FFFF_FFC5] {
            product = product.wrapping_mul(BoxedUint::from(p));
            assert!(!verdicts(&product, &primes, 1)[0], "times {p}");
        }
        for n in [9u64, 15, 17863 * 3, 17863 * 17863, 3 * 5 * 7 * 11 * 13] {
            // Below the bound the sieve only uses primes below the number itself.
            assert!(!verdicts(&BoxedUint::from(n), &primes, 1)[0], "{n}");
        }
        // A product of two primes above the bound passes the sieve (is_prime catches it).
        let n = 17881u64 * 17891;
        assert!(verdicts(&BoxedUint::from(n), &primes, 1)[0]);
        assert!(!is_prime(Flavor::Any, &BoxedUint::from(n)));
    }

    #[test]
    fn search_finds_the_first_prime_and_keeps_the_length() {
        let primes = odd_primes_below(SIEVE_BOUND);
        for start in [
            BoxedUint::from(49_153u64),
            BoxedUint::from((1u64 << 40) + 1),
            BoxedUint::from(u64::from(SIEVE_BOUND) + 1),
            big_start(),
        ] {
            let expected = (0u64..)
                .map(|i| &start + 2 * i)
                .find(|n| is_prime(Flavor::Any, n))
                .unwrap();
            assert_eq!(search(&start, u64::MAX, &primes), Some(expected));
        }
        // The last primes of 16 bits are 65497, 65519 and 65521: from 65523 there is none left
        // in the length.
        let room = |n: u64| 0xFFFF - n;
        assert_eq!(
            search(&BoxedUint::from(65_499u64), room(65_499), &primes),
            Some(BoxedUint::from(65_519u64))
        );
        assert_eq!(
            search(&BoxedUint::from(65_521u64), room(65_521), &primes),
            Some(BoxedUint::from(65_521u64))
        );
        assert_eq!(
            search(&BoxedUint::from(65_523u64), room(65_523), &primes),
            None
        );
    }

    #[test]
    fn headroom_is_the_distance_to_the_next_power_of_two() {
        // 13 bits: 0x1FFF - 0x1FF1 = 14.
        assert_eq!(headroom(&[0x1F, 0xF1], 13), 14);
        // One byte, top two bits of 8 set.
        assert_eq!(headroom(&[0xC1], 8), 0xFF - 0xC1);
        // More than 64 bits: all ones above the low 8 bytes, then the low bytes decide.
        let mut bytes = [0xFFu8; 12];
        bytes[0] = 0x0F;
        bytes[11] = 0xF1;
        assert_eq!(headroom(&bytes, 92), 14);
        bytes[1] = 0xFE;
        assert_eq!(headroom(&bytes, 92), u64::MAX);
        // Exactly 64 bits.
        assert_eq!(
            headroom(&0xC000_0000_0000_0001u64.to_be_bytes(), 64),
            (1 << 62) - 2
        );
    }

    #[test]
    fn random_primes_have_the_length_and_top_bits_asked_for() {
        let primes = odd_primes_below(SIEVE_BOUND);
        for bits in [64, 100, 255, 512] {
            let p = random_prime(bits, &primes).unwrap();
            assert_eq!(p.bit_width_vartime(), bits);
            assert!(p.bit_vartime(bits - 2));
            assert!(is_prime(Flavor::Any, &p));
        }
    }

    #[test]
    fn too_short_keys_are_refused() {
        assert_eq!(MIN_BITS as usize, rsa::PublicKey::MIN_SIZE);
        assert!(matches!(
            generate_rsa_key(512),
            Err(KeyError::WrongKeySize { bits: 512, .. })
        ));
    }
}
