//! Which training samples meet in which batch, and on which replica: the recipe's `data_order`.
//!
//! - `shuffle`: a permutation of the split per (run seed, epoch) ([`shuffled`]), cut into batches of
//!   `batch_size`, each batch's consecutive chunks of `batch_size / replicas` being the replicas'.
//! - `release`: the release's `DistributedSampler` with its defaults and `set_epoch` never called: one
//!   permutation of the dataset's index order ([`crate::data::Split::index_order`]) by PyTorch's CPU
//!   `randperm` on a generator seeded `sampler_seed` ([`randperm`], its algorithm and Mersenne Twister in
//!   pure Rust), padded by repeating its head to a multiple of `replicas`,
//!   replica r taking every `replicas`-th index from r, each replica batched with drop_last; the same
//!   batches every epoch.
//!
//! [`batches`] is the one source of both orders, for training (a step's batch is its replicas' batches one
//! after the other, which `Model::gradients` splits back) and for `twoway data order`. Tested against
//! PyTorch's `DistributedSampler` and `DataLoader` in `tests/datasets.rs`.

use crate::data::transforms::stream_key;
use crate::data::Split;
use twoway_reference::testing::Rng;
use twoway_spec::recipes::{DataOrder, Recipe};

/// A seeded permutation of 0..n (Fisher-Yates), one per (seed, epoch).
pub fn shuffled(n: usize, seed: u64, epoch: u64) -> Vec<usize> {
    let mut rng = Rng::new(stream_key(seed, epoch, u64::MAX));
    let mut v: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
    v
}

/// PyTorch's CPU generator (`at::mt19937`): the 32-bit Mersenne Twister, seeded as `manual_seed` seeds it
/// (the seed's low 32 bits through MT19937's initialisation).
struct Mt19937 {
    state: [u32; 624],
    next: usize,
}

impl Mt19937 {
    fn new(seed: u64) -> Mt19937 {
        let mut state = [0u32; 624];
        state[0] = seed as u32;
        for i in 1..624 {
            let prev = state[i - 1];
            state[i] = 1_812_433_253u32.wrapping_mul(prev ^ (prev >> 30)).wrapping_add(i as u32);
        }
        Mt19937 { state, next: 624 }
    }

    fn twist(&mut self) {
        for i in 0..624 {
            let y = (self.state[i] & 0x8000_0000) | (self.state[(i + 1) % 624] & 0x7fff_ffff);
            let mut v = self.state[(i + 397) % 624] ^ (y >> 1);
            if y & 1 != 0 {
                v ^= 0x9908_b0df;
            }
            self.state[i] = v;
        }
        self.next = 0;
    }

    fn random(&mut self) -> u32 {
        if self.next >= 624 {
            self.twist();
        }
        let mut y = self.state[self.next];
        self.next += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }
}

/// `torch.randperm(n, generator=torch.Generator().manual_seed(seed))` on the CPU, as libtorch computes it
/// for n below 2^32 / 20: a swap of position i with i + (random() mod (n - i)) for each i. Pure Rust, so it
/// touches no global generator (tested against libtorch's own in `tests/data_order.rs`).
pub fn randperm(n: usize, seed: u64) -> Vec<usize> {
    assert!(n < (u32::MAX / 20) as usize, "randperm of {n} samples: PyTorch draws 64-bit numbers above 2^32 / 20");
    let mut g = Mt19937::new(seed);
    let mut r: Vec<usize> = (0..n).collect();
    for i in 0..n.saturating_sub(1) {
        let z = g.random() as usize % (n - i);
        r.swap(i, i + z);
    }
    r
}

/// The indices of `DistributedSampler(dataset, num_replicas=replicas, rank=r)` for every rank r: a
/// permutation of 0..n, padded by repeating its head to a multiple of `replicas`, rank r taking every
/// `replicas`-th index from r.
pub fn distributed(n: usize, replicas: usize, seed: u64) -> Vec<Vec<usize>> {
    let mut indices = randperm(n, seed);
    let total = n.div_ceil(replicas) * replicas;
    let head = indices.clone();
    while indices.len() < total && !head.is_empty() {
        let need = total - indices.len();
        indices.extend(head.iter().take(need));
    }
    (0..replicas).map(|r| indices.iter().skip(r).step_by(replicas).copied().collect()).collect()
}

/// The batches of an epoch as split samples: per step, per replica, the samples it trains on. `seed` is
/// the run's (the shuffle order's key); the release order uses the recipe's `sampler_seed`.
pub fn batches(split: &Split, recipe: &Recipe, seed: u64, epoch: usize) -> Vec<Vec<Vec<usize>>> {
    let (b, r) = (recipe.batch_size, recipe.replicas);
    let per = b / r;
    match recipe.data_order {
        DataOrder::Shuffle => {
            let n = split.len();
            let steps = if recipe.drop_last { n / b } else { n.div_ceil(b) };
            let mut order = shuffled(n, seed, epoch as u64);
            order.truncate((steps * b).min(n));
            order.chunks(b).map(|step| step.chunks(per.max(1)).map(<[usize]>::to_vec).collect()).collect()
        }
        DataOrder::Release => {
            let ranks = distributed(split.index_order.len(), r, recipe.sampler_seed);
            let steps = ranks[0].len() / per;
            (0..steps)
                .map(|i| {
                    ranks
                        .iter()
                        .map(|rank| rank[i * per..(i + 1) * per].iter().map(|&d| split.index_order[d]).collect())
                        .collect()
                })
                .collect()
        }
    }
}

/// The eval samples the release's padded evaluation sampler counts twice: the head of its permutation
/// (`randperm` seeded `sampler_seed`) that pads the split to a multiple of `replicas`.
pub fn eval_padding(split: &Split, recipe: &Recipe) -> Vec<usize> {
    let ranks = distributed(split.index_order.len(), recipe.replicas, recipe.sampler_seed);
    let mut all: Vec<usize> = ranks.into_iter().flatten().map(|d| split.index_order[d]).collect();
    all.sort_unstable();
    // Each index once, and the padding's repeats once more.
    let mut extra = Vec::new();
    for w in all.windows(2) {
        if w[0] == w[1] {
            extra.push(w[0]);
        }
    }
    extra
}

/// An epoch's training order: the samples of [`batches`] step after step, each step's replicas one after
/// the other.
pub fn epoch_order(split: &Split, recipe: &Recipe, seed: u64, epoch: usize) -> Vec<usize> {
    batches(split, recipe, seed, epoch).into_iter().flatten().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffles_are_seeded_permutations() {
        let a = shuffled(100, 1, 0);
        assert_eq!(a, shuffled(100, 1, 0));
        assert_ne!(a, shuffled(100, 1, 1));
        let mut s = a.clone();
        s.sort();
        assert_eq!(s, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn the_distributed_sampler_pads_with_its_head_and_deals_the_ranks() {
        let perm = randperm(10, 0);
        let ranks = distributed(10, 4, 0);
        assert_eq!(ranks.iter().map(Vec::len).collect::<Vec<_>>(), [3, 3, 3, 3]);
        let padded: Vec<usize> = perm.iter().chain(&perm[..2]).copied().collect();
        for (r, rank) in ranks.iter().enumerate() {
            let want: Vec<usize> = padded.iter().skip(r).step_by(4).copied().collect();
            assert_eq!(rank, &want);
        }
        // Fewer samples than replicas: the head repeats as often as needed.
        assert_eq!(distributed(1, 3, 0), [[0], [0], [0]]);
    }

    #[test]
    fn the_padded_evaluation_counts_the_head_of_the_permutation_twice() {
        let spec = twoway_spec::Spec::embedded();
        let recipe = spec.recipes["release"].clone();
        // A split of 10 samples whose release index order reverses them.
        let split = crate::data::Split {
            dataset: twoway_spec::Dataset::Coco,
            name: "val2014".into(),
            classes: vec!["a".into()],
            samples: (0..10)
                .map(|i| crate::data::Sample { image: format!("{i}.jpg").into(), crop: None, id: i.to_string() })
                .collect(),
            labels: ndarray::Array2::zeros((10, 1)),
            images: ".".into(),
            dropped_unannotated: 0,
            dropped_boxes: Vec::new(),
            index_order: (0..10).rev().collect(),
        };
        let head = randperm(10, 0);
        let mut want: Vec<usize> = head[..2].iter().map(|d| 9 - d).collect();
        want.sort_unstable();
        assert_eq!(eval_padding(&split, &recipe), want);
        let four = crate::data::Split { samples: split.samples[..8].to_vec(), index_order: (0..8).collect(), ..split };
        assert!(eval_padding(&four, &recipe).is_empty(), "8 samples on 4 replicas need no padding");
    }
}
