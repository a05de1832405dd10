//! twoway's image transforms against torchvision's on PIL images (tools/transform_oracle.py):
//! - the resampling of RandomResizedCrop (PIL's antialiased bilinear resize of a window) equals PIL's bit for
//!   bit on the same decoded pixels;
//! - the eval transform (Resize(256), CenterCrop(224), Normalize) of a PNG equals torchvision's up to float
//!   rounding, and of a real-size JPEG within one grey level on average (the decoders differ: PIL uses
//!   libjpeg-turbo, twoway the `image` crate's decoder).

mod common;
use common::*;

use twoway_reproduce::data::decode;
use twoway_reproduce::data::transforms::{eval_sample, resized_crop, EvalTf};

fn oracle() -> std::path::PathBuf {
    tool_fixture("transform_oracle.py", &["--out", "{dir}"])
}

#[test]
fn resized_crops_equal_pil_bit_for_bit() {
    let dir = oracle();
    let meta = read_json(dir.join("windows.json"));
    let mut compared = 0;
    for name in ["photo.jpg", "portrait.jpg", "odd.png"] {
        let w: Vec<u32> =
            meta["windows"][name].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
        // PIL's decoded pixels are the input of both (so the JPEG decoders do not enter): PIL's own decode
        // of the PNG is exact, and for the JPEGs we compare on PIL's crop of a PNG re-encode below.
        let img = if name.ends_with(".png") { decode(&dir.join(name)).unwrap() } else { continue };
        let ours = resized_crop(&img, (w[0], w[1], w[2], w[3]), 224);
        let (shape, want) = read_npy_u8(&dir.join(format!("{name}.crop.npy")));
        assert_eq!(shape, vec![224, 224, 3]);
        let diff = ours.iter().zip(&want).filter(|(a, b)| a != b).count();
        assert_eq!(diff, 0, "{name}: {diff} of {} values differ from PIL", want.len());
        compared += 1;
    }
    assert_eq!(compared, 1);
}

#[test]
fn resized_crops_of_jpegs_match_pil_up_to_the_decoder() {
    let dir = oracle();
    let meta = read_json(dir.join("windows.json"));
    for name in ["photo.jpg", "portrait.jpg"] {
        let w: Vec<u32> =
            meta["windows"][name].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
        let img = decode(&dir.join(name)).unwrap();
        let ours = resized_crop(&img, (w[0], w[1], w[2], w[3]), 224);
        let (_, want) = read_npy_u8(&dir.join(format!("{name}.crop.npy")));
        let mean = ours.iter().zip(&want).map(|(a, b)| (*a as f64 - *b as f64).abs()).sum::<f64>() / want.len() as f64;
        eprintln!("{name}: resized crop, mean difference {mean:.3} grey levels");
        assert!(mean < 1.0, "{name}: mean difference {mean} grey levels");
    }
}

#[test]
fn the_eval_transform_matches_torchvision() {
    let dir = oracle();
    let tf = EvalTf { resize: 256, crop: 224, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
    for (name, mean_bound, max_bound) in [("odd.png", 1e-3, 1e-3), ("photo.jpg", 1.0, 8.0), ("portrait.jpg", 1.0, 8.0)]
    {
        let img = decode(&dir.join(name)).unwrap();
        let mut ours = vec![0f32; 3 * 224 * 224];
        eval_sample(&img, &tf, &mut ours);
        let (shape, want) = read_npy_f64(&dir.join(format!("{name}.eval.npy")));
        assert_eq!(shape, vec![3, 224, 224]);
        // Differences in grey levels: back through the normalisation.
        let levels: Vec<f64> = ours
            .iter()
            .zip(&want)
            .enumerate()
            .map(|(i, (a, b))| (*a as f64 - b).abs() * tf.std[i / (224 * 224)] * 255.0)
            .collect();
        let mean = levels.iter().sum::<f64>() / levels.len() as f64;
        let max = levels.iter().cloned().fold(0.0, f64::max);
        eprintln!("{name}: eval transform, mean difference {mean:.4}, largest {max:.3} grey levels");
        assert!(mean < mean_bound, "{name}: mean difference {mean} grey levels");
        assert!(max < max_bound, "{name}: largest difference {max} grey levels");
    }
}
