//! What the randomized tests (`proxy_differential`, `secrets_differential`, `input_fuzz`)
//! share: a small deterministic PRNG, so that a seed and a case number name one case, and the
//! `TRIAGE_FUZZ_*` variables that pick the seed, the number of cases and one case alone.

/// splitmix64: tiny, fast, and the same sequence on every platform.
pub struct Rng(pub u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    pub fn pick<T: Clone>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())].clone()
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 8);
        while out.len() < n {
            out.extend_from_slice(&self.next().to_le_bytes());
        }
        out.truncate(n);
        out
    }

    pub fn hex(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b"0123456789abcdef"[self.below(16)]))
            .collect()
    }

    pub fn uuid(&mut self) -> String {
        format!(
            "{}-{}-4{}-8{}-{}",
            self.hex(8),
            self.hex(4),
            self.hex(3),
            self.hex(3),
            self.hex(12)
        )
    }
}

/// The seed of case `n` of a run seeded `seed`: cases are independent, so one reproduces
/// alone (`TRIAGE_FUZZ_CASE`).
pub fn case_seed(seed: u64, n: usize) -> u64 {
    let mut r = Rng::new(seed ^ (n as u64).wrapping_mul(0xD1B5_4A32_D192_ED03));
    r.next()
}

/// A number from the environment, decimal or `0x` hex; a value that is no number is a
/// mistake worth stopping for.
pub fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    let v = v.trim();
    let parsed = match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => v.parse(),
    };
    Some(parsed.unwrap_or_else(|_| panic!("{name}={v:?} is not a number")))
}

/// `TRIAGE_FUZZ_SEED`, or one from the clock (the tests print it, so a failure reproduces).
pub fn seed() -> u64 {
    env_u64("TRIAGE_FUZZ_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
    })
}

/// `TRIAGE_FUZZ_CASES`, or the test's own default.
pub fn cases(default: usize) -> usize {
    env_u64("TRIAGE_FUZZ_CASES").map_or(default, |c| c as usize)
}

/// `TRIAGE_FUZZ_CASE`: the one case to run, when set.
pub fn only_case() -> Option<usize> {
    env_u64("TRIAGE_FUZZ_CASE").map(|c| c as usize)
}
