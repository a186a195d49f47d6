//! A dudect-style statistical timing test: does checking a signature take longer when more of
//! its leading bytes are right?
//!
//! Two classes of forged signatures go through `Verifier::verify_signature`, interleaved in a
//! random order: class A shares the first 19 bytes with the correct tag, class B differs in the
//! first byte. Welch's t-test compares the two timing distributions (after cropping the slowest
//! tail, as dudect does). |t| above 4.5 means a leak with overwhelming confidence.
//!
//! A control runs the same harness on the same work with a leaky comparison (HMAC, then a
//! byte loop that stops at the first difference) and must be detected, so a pass is not the
//! harness failing to see anything.
//!
//! Timing depends on the machine and its load, so this is not part of the normal run:
//!
//! ```sh
//! cargo test --release -p appwrite-webhooks --test timing -- --ignored --nocapture
//! ```

use std::hint::black_box;
use std::time::Instant;

use appwrite_webhooks::{Scheme, Verifier};
use hmac::{Hmac, Mac};
use sha1::Sha1;

const KEY: &str = "whsec_timing";
const URL: &str = "https://example.com/hook";
const BODY: &[u8] = br#"{"$id":"u1","name":"timing"}"#;
const SAMPLES: usize = 400_000;
const THRESHOLD: f64 = 4.5;

fn correct_tag() -> [u8; 20] {
    let mut mac = Hmac::<Sha1>::new_from_slice(KEY.as_bytes()).unwrap();
    mac.update(URL.as_bytes());
    mac.update(BODY);
    mac.finalize().into_bytes().into()
}

/// Class A: right except the last byte. Class B: wrong from the first byte.
fn forged(correct: [u8; 20]) -> ([u8; 20], [u8; 20]) {
    let mut late = correct;
    late[19] ^= 0x01;
    let mut early = correct;
    early[0] ^= 0x01;
    (late, early)
}

/// xorshift64*: enough to shuffle the classes without a dependency.
struct Rng(u64);

impl Rng {
    fn bit(&mut self) -> bool {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 63 == 1
    }
}

/// Times `check` on the two inputs in a random interleaving; returns Welch's t.
fn welch_t<T>(inputs: [&T; 2], check: impl Fn(&T) -> bool) -> f64 {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut times: [Vec<u64>; 2] = [Vec::with_capacity(SAMPLES), Vec::with_capacity(SAMPLES)];
    // Warm up caches and the branch predictor on both classes.
    for i in 0..10_000 {
        black_box(check(black_box(inputs[i % 2])));
    }
    for _ in 0..2 * SAMPLES {
        let class = usize::from(rng.bit());
        let input = black_box(inputs[class]);
        let start = Instant::now();
        let accepted = check(input);
        let elapsed = start.elapsed().as_nanos() as u64;
        assert!(!black_box(accepted), "a forged signature was accepted");
        times[class].push(elapsed);
    }
    // Crop the slowest 5% of the pooled samples: interrupts and migrations, not the code.
    let mut pooled: Vec<u64> = times.iter().flatten().copied().collect();
    pooled.sort_unstable();
    let cutoff = pooled[pooled.len() * 95 / 100];
    let stats = times.map(|t| {
        let kept: Vec<f64> = t
            .into_iter()
            .filter(|&x| x <= cutoff)
            .map(|x| x as f64)
            .collect();
        let n = kept.len() as f64;
        let mean = kept.iter().sum::<f64>() / n;
        let var = kept.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
        (mean, var, n)
    });
    let [(m0, v0, n0), (m1, v1, n1)] = stats;
    println!("    means: {m0:.1} ns vs {m1:.1} ns over {n0} / {n1} samples");
    (m0 - m1) / (v0 / n0 + v1 / n1).sqrt()
}

#[test]
#[ignore = "statistical timing test: run by hand in release mode, see the file's docs"]
fn signature_check_time_does_not_depend_on_matching_prefix() {
    let (late_tag, early_tag) = forged(correct_tag());
    let verifier = Verifier::new(KEY, URL);
    // Headers carrying only the signature, made before timing starts.
    let encode = |tag: [u8; 20]| -> http::HeaderMap {
        use base64::Engine as _;
        let value = base64::engine::general_purpose::STANDARD.encode(tag);
        let mut headers = http::HeaderMap::new();
        headers.insert(Scheme::Appwrite.signature_header(), value.parse().unwrap());
        headers
    };
    let (late, early) = (encode(late_tag), encode(early_tag));

    println!("control: HMAC + early-exit comparison");
    let leaky = welch_t([&late_tag, &early_tag], |tag: &[u8; 20]| {
        let mut mac = Hmac::<Sha1>::new_from_slice(KEY.as_bytes()).unwrap();
        mac.update(URL.as_bytes());
        mac.update(BODY);
        let expected = mac.finalize().into_bytes();
        for i in 0..20 {
            if black_box(expected[i]) != black_box(tag[i]) {
                return false;
            }
        }
        true
    });
    println!("    t = {leaky:.2}");

    println!("Verifier::verify_signature");
    let ours = welch_t([&late, &early], |headers: &http::HeaderMap| {
        verifier.verify_signature(headers, BODY).is_ok()
    });
    println!("    t = {ours:.2}");

    assert!(
        leaky.abs() > THRESHOLD,
        "the harness did not detect the leaky control (t = {leaky:.2}); the machine is too noisy for this test"
    );
    assert!(
        ours.abs() < THRESHOLD,
        "signature checking time depends on the matching prefix (t = {ours:.2})"
    );
}
