//! Random-looking identifiers in the formats AWS uses: association ids, UUIDs
//! (request ids, external ids), X-Ray trace ids.
//!
//! They only need to be unique and well-formed, not unpredictable, so a
//! splitmix64 stream seeded from the clock and the process id is enough and
//! keeps the crate free of a `rand` dependency.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A thread-safe source of pseudo-random numbers and ids.
#[derive(Debug)]
pub struct IdGen {
    seed: u64,
    counter: AtomicU64,
}

impl Default for IdGen {
    fn default() -> Self {
        Self::new()
    }
}

impl IdGen {
    /// Seeds from the clock and process id so that two stand-ins (or two test
    /// runs) do not hand out the same ids.
    pub fn new() -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        Self::with_seed(nanos ^ (u64::from(std::process::id()) << 32))
    }

    /// A generator with a fixed seed, for reproducible unit tests.
    pub fn with_seed(seed: u64) -> Self {
        Self {
            seed,
            counter: AtomicU64::new(0),
        }
    }

    /// The next 64 pseudo-random bits.
    pub fn next_u64(&self) -> u64 {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        splitmix64(
            self.seed
                .wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
        )
    }

    /// A float uniformly distributed in `[0, 1)`.
    pub fn next_f64(&self) -> f64 {
        // The top 53 bits fill an f64 mantissa exactly.
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A uniformly chosen index below `n` (`n` must be non-zero).
    pub fn below(&self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// An EKS Pod Identity association id: `a-` and 17 of `[a-z0-9]`.
    pub fn association_id(&self) -> String {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let mut id = String::from("a-");
        for _ in 0..17 {
            id.push(char::from(ALPHABET[self.below(ALPHABET.len())]));
        }
        id
    }

    /// A version-4 style UUID, lowercase: `8-4-4-4-12` hex digits.
    pub fn uuid(&self) -> String {
        let hi = self.next_u64();
        let lo = self.next_u64();
        // Version and variant bits make it a valid v4 UUID for parsers that check.
        let hi = (hi & !0xF000) | 0x4000;
        let lo = (lo & !(0b11 << 62)) | (0b10 << 62);
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            hi >> 32,
            (hi >> 16) & 0xFFFF,
            hi & 0xFFFF,
            lo >> 48,
            lo & 0xFFFF_FFFF_FFFF
        )
    }

    /// An X-Ray trace header as Lambda passes it in `Lambda-Runtime-Trace-Id`.
    pub fn trace_id(&self) -> String {
        let epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        format!(
            "Root=1-{:08x}-{:08x}{:016x};Parent={:016x};Sampled=0",
            epoch & 0xFFFF_FFFF,
            self.next_u64() & 0xFFFF_FFFF,
            self.next_u64(),
            self.next_u64()
        )
    }
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// True if `id` has the shape of an association id (`a-` and 17 of `[a-z0-9]`).
pub fn is_association_id(id: &str) -> bool {
    id.strip_prefix("a-").is_some_and(|rest| {
        rest.len() == 17
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

/// True if `s` is a lowercase `8-4-4-4-12` hex UUID.
pub fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups.iter().zip([8, 4, 4, 4, 12]).all(|(g, len)| {
            g.len() == len && g.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn association_ids_have_the_aws_shape_and_do_not_repeat() {
        let ids = IdGen::new();
        let seen: HashSet<String> = (0..1000).map(|_| ids.association_id()).collect();
        assert_eq!(seen.len(), 1000);
        for id in &seen {
            assert!(is_association_id(id), "{id}");
        }
    }

    #[test]
    fn uuids_are_lowercase_hex_8_4_4_4_12_version_4() {
        let ids = IdGen::with_seed(7);
        for _ in 0..100 {
            let u = ids.uuid();
            assert!(is_uuid(&u), "{u}");
            assert_eq!(&u[14..15], "4", "{u}");
            assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"), "{u}");
        }
    }

    #[test]
    fn shape_checks_reject_near_misses() {
        assert!(!is_association_id("a-ABCDEFGHIJKLMNOPQ"));
        assert!(!is_association_id("a-abc"));
        assert!(!is_association_id("b-abcdefghijklmnopq"));
        assert!(!is_uuid("0000000-0000-0000-0000-000000000000"));
        assert!(!is_uuid("0000000G-0000-0000-0000-000000000000"));
    }

    #[test]
    fn trace_ids_look_like_xray_headers() {
        let t = IdGen::new().trace_id();
        assert!(t.starts_with("Root=1-"), "{t}");
        assert!(t.ends_with(";Sampled=0"), "{t}");
        assert!(t.contains(";Parent="), "{t}");
    }

    #[test]
    fn floats_stay_in_the_unit_interval() {
        let ids = IdGen::with_seed(1);
        let mut below_half = 0;
        for _ in 0..10_000 {
            let f = ids.next_f64();
            assert!((0.0..1.0).contains(&f));
            if f < 0.5 {
                below_half += 1;
            }
        }
        assert!((4_000..6_000).contains(&below_half), "{below_half}");
    }
}
