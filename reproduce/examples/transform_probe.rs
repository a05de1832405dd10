//! The training transform on one decoded JPEG, `repeats` samples with the release's augmentation (and the
//! embedded recipe's): prints a hash of every output bit (to check a change leaves the samples identical)
//! and the time per sample. `cargo run --release -p twoway-reproduce --no-default-features --example
//! transform_probe -- IMAGE [repeats]`.
use std::time::Instant;
use twoway_reproduce::data::decode;
use twoway_reproduce::data::transforms::{sample_rng, train_sample, TrainAug};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args.first().expect("IMAGE [repeats]");
    let repeats: u64 = args.get(1).map_or(1000, |r| r.parse().expect("repeats: a count"));
    let img = decode(std::path::Path::new(path)).expect("a decodable image");
    let spec = twoway_spec::Spec::embedded();
    for recipe in ["release", "embedded"] {
        let aug = TrainAug::from_recipe(&spec.recipes[recipe]);
        let side = aug.crop as usize;
        let mut out = vec![0f32; 3 * side * side];
        let mut hash = 0xcbf2_9ce4_8422_2325u64;
        let start = Instant::now();
        for k in 0..repeats {
            train_sample(&img, &aug, &mut sample_rng(1, 0, k), &mut out);
            for v in &out {
                hash = (hash ^ u64::from(v.to_bits())).wrapping_mul(0x100_0000_01b3);
            }
        }
        let each = start.elapsed().as_secs_f64() / repeats as f64;
        println!("{recipe}: {repeats} samples, hash {hash:016x}, {:.1} us each (hashing included)", each * 1e6);
    }
}
