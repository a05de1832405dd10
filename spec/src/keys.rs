//! The vocabulary of the spec: datasets, backbones, losses, ways, metrics and the option enums.
//! Each key has a stable snake_case name (used in YAML, CSV, JSON and on the command line) and the
//! label the paper prints.

use std::fmt;
use std::str::FromStr;

/// Error of parsing a key from text; it lists the accepted names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} `{given}`; expected one of: {expected}")]
pub struct UnknownKey {
    pub kind: &'static str,
    pub given: String,
    pub expected: String,
}

macro_rules! key_enum {
    ($(#[$meta:meta])* $name:ident, $kind:literal { $($(#[$vmeta:meta])* $variant:ident = $s:literal $(| $alias:literal)*, $label:literal;)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $s $(, alias = $alias)*)] #[cfg_attr(feature = "clap", value(name = $s $(, alias = $alias)*))] $variant,)+
        }

        impl $name {
            /// Every value, in the paper's order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable snake_case name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }

            /// The label the paper prints.
            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownKey;
            fn from_str(s: &str) -> Result<Self, UnknownKey> {
                match s {
                    $($s $(| $alias)* => Ok($name::$variant),)+
                    _ => Err(UnknownKey {
                        kind: $kind,
                        given: s.to_string(),
                        expected: [$($s),+].join(", "),
                    }),
                }
            }
        }
    };
}

key_enum!(
    /// A backbone network: torchvision's classification models of the ResNet (with ResNeXt and Wide
    /// ResNet), DenseNet and RegNet (X and Y) families under their torchvision names, and `tiny`, twoway's
    /// small CNN. The paper's four keep their earlier keys (`regnety_32gf` for `regnet_y_32gf`, ...); the
    /// torchvision name of each is an alias. `regnety_400mf` is the small RegNetY of the tests and CI.
    Backbone, "backbone" {
        Resnet50 = "resnet50", "ResNet50";
        Resnext50 = "resnext50_32x4d", "ResNeXt50";
        Densenet169 = "densenet169", "DenseNet169";
        Regnety32gf = "regnety_32gf" | "regnet_y_32gf", "RegNetY-32GF";
        /// The small member of the RegNetY family (tests and CI; not in the paper).
        Regnety400mf = "regnety_400mf" | "regnet_y_400mf", "RegNetY-400MF";
        Tiny = "tiny", "Tiny";
        Resnet18 = "resnet18", "ResNet18";
        Resnet34 = "resnet34", "ResNet34";
        Resnet101 = "resnet101", "ResNet101";
        Resnet152 = "resnet152", "ResNet152";
        Resnext101x32 = "resnext101_32x8d", "ResNeXt101-32x8d";
        Resnext101x64 = "resnext101_64x4d", "ResNeXt101-64x4d";
        WideResnet50 = "wide_resnet50_2", "WideResNet50-2";
        WideResnet101 = "wide_resnet101_2", "WideResNet101-2";
        Densenet121 = "densenet121", "DenseNet121";
        Densenet161 = "densenet161", "DenseNet161";
        Densenet201 = "densenet201", "DenseNet201";
        RegnetX400mf = "regnet_x_400mf", "RegNetX-400MF";
        RegnetX800mf = "regnet_x_800mf", "RegNetX-800MF";
        RegnetX1_6gf = "regnet_x_1_6gf", "RegNetX-1.6GF";
        RegnetX3_2gf = "regnet_x_3_2gf", "RegNetX-3.2GF";
        RegnetX8gf = "regnet_x_8gf", "RegNetX-8GF";
        RegnetX16gf = "regnet_x_16gf", "RegNetX-16GF";
        RegnetX32gf = "regnet_x_32gf", "RegNetX-32GF";
        RegnetY800mf = "regnet_y_800mf", "RegNetY-800MF";
        RegnetY1_6gf = "regnet_y_1_6gf", "RegNetY-1.6GF";
        RegnetY3_2gf = "regnet_y_3_2gf", "RegNetY-3.2GF";
        RegnetY8gf = "regnet_y_8gf", "RegNetY-8GF";
        RegnetY16gf = "regnet_y_16gf", "RegNetY-16GF";
        RegnetY128gf = "regnet_y_128gf", "RegNetY-128GF";
    }
);

key_enum!(
    /// A loss function; `twoway` is the paper's proposed loss ("Ours").
    Loss, "loss" {
        Softmax = "softmax", "Softmax";
        Bce = "bce", "BCE";
        Focal = "focal", "Focal";
        Asl = "asl", "ASL";
        Twoway = "twoway", "Ours";
    }
);

key_enum!(
    /// The way a set-based loss is applied. The class way discriminates samples (helps mAP@class); the sample
    /// way discriminates classes (helps mAP@sample); `both` sums the two way means.
    Way, "way" {
        Both = "both", "both";
        Class = "class", "class";
        Sample = "sample", "sample";
    }
);

key_enum!(
    /// An evaluation metric (0-100 scale).
    Metric, "metric" {
        MapClass = "map_class", "mAP@class";
        MapSample = "map_sample", "mAP@sample";
        /// CF1 at the threshold 0.5 (the harmonic mean of CP and CR; `metrics.yaml`, `thresholded`).
        Cf1 = "cf1", "CF1";
        /// OF1 at the threshold 0.5.
        Of1 = "of1", "OF1";
        /// CF1 of each sample's top 3 classes.
        Cf1Top3 = "cf1_top3", "CF1@top-3";
        /// OF1 of each sample's top 3 classes.
        Of1Top3 = "of1_top3", "OF1@top-3";
        /// CF1 at one threshold tuned for OF1 on the recipe's held-out slice.
        Cf1Tuned = "cf1_tuned", "CF1 (tuned)";
        /// OF1 at one threshold tuned for OF1 on the recipe's held-out slice.
        Of1Tuned = "of1_tuned", "OF1 (tuned)";
        /// CF1 at per-class thresholds, each tuned for its class's F1 on the held-out slice.
        Cf1TunedClass = "cf1_tuned_class", "CF1 (tuned per class)";
        /// OF1 at per-class thresholds, each tuned for its class's F1 on the held-out slice.
        Of1TunedClass = "of1_tuned_class", "OF1 (tuned per class)";
    }
);

impl Metric {
    /// The two metrics the paper reports (and the default selection of tables, diffs, gates and claims).
    pub const MAP: &'static [Metric] = &[Metric::MapClass, Metric::MapSample];

    /// True for the paper's own metrics (mAP@class, mAP@sample), the ones with published values.
    pub fn is_map(self) -> bool {
        Metric::MAP.contains(&self)
    }
}

key_enum!(
    /// How the two-way loss excludes entries from a set inside the logsumexp.
    Mask, "mask" {
        /// Excluded entries are -inf (set semantics, the poster's formula).
        Exact = "exact", "exact";
        /// Excluded entries get the release's additive -100 offset (after division by T).
        Official = "official", "official";
    }
);

key_enum!(
    /// How libtorch's CPU kernels are chosen (`spec/data/numerics.yaml`).
    #[derive(Default)]
    Numerics, "numerics" {
        /// Each library picks the kernels of the CPU it runs on: fastest, bit-identical on that kind of CPU.
        #[default]
        Native = "native", "native";
        /// Every kernel choice capped at what all x86-64 CPUs share: bit-identical on any x86-64 CPU.
        Portable = "portable", "portable";
    }
);

impl Numerics {
    pub fn is_native(&self) -> bool {
        *self == Numerics::Native
    }
}

key_enum!(
    /// Reduction of the element-wise losses (BCE, focal, ASL) over the labelled entries.
    Reduction, "reduction" {
        /// Sum over classes, mean over samples (the batch's rows).
        SumMean = "sum_mean", "sum over classes, mean over samples";
        /// Mean over the labelled entries.
        Mean = "mean", "mean over labelled entries";
        /// Sum over all labelled entries.
        Sum = "sum", "sum over labelled entries";
    }
);

key_enum!(
    /// How AP ranks tied scores.
    Ties, "ties" {
        /// Tied scores form one threshold (order-independent).
        Grouped = "grouped", "grouped";
        /// Ties ranked by position (stable descending sort).
        Index = "index", "index";
    }
);

key_enum!(
    /// The denominator of AP.
    Denominator, "denominator" {
        /// The number of positives.
        Exact = "exact", "exact";
        /// The release's `positives + 1e-8`.
        Release = "release", "release";
    }
);

key_enum!(
    /// What the scores of a thresholded metric are (`metrics.yaml`, `thresholded.score_kind`).
    ScoreKind, "score kind" {
        /// Logits: a probability threshold t applies as `logit >= ln(t / (1 - t))`.
        Logit = "logit", "logit";
        /// Probabilities in [0, 1], thresholded as they are.
        Probability = "probability", "probability";
    }
);

key_enum!(
    /// How a thresholded metric counts unknown (-1) labels.
    Unknowns, "unknown" {
        /// Unknown entries count in no TP, FP or FN (the spec's default, as AP drops them).
        Exclude = "exclude", "excluded";
        /// Unknown entries are negatives (the widely copied evaluation routine).
        Negative = "negative", "taken as negatives";
    }
);

key_enum!(
    /// A ratio of a thresholded metric whose denominator is 0 (a class never predicted; nothing predicted).
    Undefined, "undefined" {
        /// The ratio is 0 (a never-predicted class has precision 0).
        Zero = "zero", "0";
        /// The ratio is left out of its mean (a never-predicted class drops out of CP).
        Skip = "skip", "skipped";
        /// The ratio is NaN, and so is any mean it enters (0 / 0 in floating point).
        Nan = "nan", "NaN";
    }
);

key_enum!(
    /// The floating-point kind an implementation computes in.
    Dtype, "dtype" {
        F64 = "f64", "float64";
        F32 = "f32", "float32";
        F16 = "f16", "float16";
        Bf16 = "bf16", "bfloat16";
    }
);

key_enum!(
    /// Where a default or a fact comes from.
    Source, "source" {
        Poster = "poster", "the poster";
        Release = "release", "the authors' release";
        BaselineAuthors = "baseline_authors", "the baseline's authors";
        PublicFormat = "public_format", "the dataset's public format";
        Torchvision = "torchvision", "torchvision";
        /// The multi-label classification papers that report CP, CR, CF1, OP, OR, OF1.
        Papers = "papers", "the multi-label papers";
        Ours = "ours", "our choice";
    }
);

impl Loss {
    /// The losses the paper compares in its main table, in its row order.
    pub const PAPER: &'static [Loss] = Loss::ALL;

    /// True for the set-based losses that have ways (two-way and softmax).
    pub fn has_ways(self) -> bool {
        matches!(self, Loss::Twoway | Loss::Softmax)
    }
}

/// A dataset: the paper's four, `embedded` (twoway's generated default), or a user's dataset file, known
/// by the `name` it declares (see [`crate::registry::register_dataset_file`]). Keys are stable snake_case
/// names everywhere (YAML, CSV, JSON, folders); a dataset file's name is interned, so a `Dataset` stays
/// `Copy`. Built-in keys order first, in the paper's order; dataset files after them, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dataset {
    Coco,
    Vispr,
    Vaw,
    Wider,
    Embedded,
    /// A dataset file's name (interned).
    Named(NameId),
}

/// An interned dataset name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NameId(u32);

fn names() -> &'static std::sync::Mutex<Vec<&'static str>> {
    static NAMES: std::sync::OnceLock<std::sync::Mutex<Vec<&'static str>>> = std::sync::OnceLock::new();
    NAMES.get_or_init(Default::default)
}

/// Whether `name` can name a dataset file: 1 to 64 of `a-z`, `0-9`, `_`, `-`, starting with a letter.
pub fn valid_dataset_name(name: &str) -> bool {
    let ok = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-';
    !name.is_empty() && name.len() <= 64 && name.as_bytes()[0].is_ascii_lowercase() && name.bytes().all(ok)
}

impl Dataset {
    /// The built-in datasets, in the paper's order, then `embedded`.
    pub const ALL: &'static [Dataset] =
        &[Dataset::Coco, Dataset::Vispr, Dataset::Vaw, Dataset::Wider, Dataset::Embedded];

    /// The paper's four datasets, in its row order.
    pub const PAPER: &'static [Dataset] = &[Dataset::Coco, Dataset::Vispr, Dataset::Vaw, Dataset::Wider];

    /// The dataset named `name` (a built-in key, or else a dataset file's name, interned); `None` when the
    /// name is not a valid one.
    pub fn named(name: &str) -> Option<Dataset> {
        if let Some(d) = Dataset::ALL.iter().find(|d| d.as_str() == name) {
            return Some(*d);
        }
        if !valid_dataset_name(name) {
            return None;
        }
        let mut table = names().lock().unwrap_or_else(|e| e.into_inner());
        let id = match table.iter().position(|n| *n == name) {
            Some(i) => i,
            None => {
                table.push(Box::leak(name.to_string().into_boxed_str()));
                table.len() - 1
            }
        };
        Some(Dataset::Named(NameId(id as u32)))
    }

    /// Whether this is one of twoway's own datasets (not a dataset file).
    pub fn is_builtin(self) -> bool {
        !matches!(self, Dataset::Named(_))
    }

    /// The stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Dataset::Coco => "coco",
            Dataset::Vispr => "vispr",
            Dataset::Vaw => "vaw",
            Dataset::Wider => "wider",
            Dataset::Embedded => "embedded",
            Dataset::Named(NameId(i)) => names().lock().unwrap_or_else(|e| e.into_inner())[i as usize],
        }
    }

    /// The label the paper prints (a dataset file's name for a dataset file).
    pub fn label(self) -> &'static str {
        match self {
            Dataset::Coco => "MS-COCO",
            Dataset::Vispr => "VISPR",
            Dataset::Vaw => "VAW",
            Dataset::Wider => "WIDER",
            Dataset::Embedded => "Embedded",
            Dataset::Named(_) => self.as_str(),
        }
    }

    fn rank(self) -> usize {
        Dataset::ALL.iter().position(|d| *d == self).unwrap_or(Dataset::ALL.len())
    }
}

impl PartialOrd for Dataset {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Dataset {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.rank(), self.as_str()).cmp(&(other.rank(), other.as_str()))
    }
}

impl fmt::Display for Dataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Dataset {
    type Err = UnknownKey;
    /// A built-in key, or a dataset file's name.
    fn from_str(s: &str) -> Result<Self, UnknownKey> {
        Dataset::named(s).ok_or_else(|| UnknownKey {
            kind: "dataset",
            given: s.to_string(),
            expected: format!(
                "{}, or a dataset file's name (a-z, 0-9, `_`, `-`, starting with a letter)",
                Dataset::ALL.iter().map(|d| d.as_str()).collect::<Vec<_>>().join(", ")
            ),
        })
    }
}

impl serde::Serialize for Dataset {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Dataset {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Backbone {
    /// The paper's four backbones, in its column order.
    pub const PAPER: &'static [Backbone] =
        &[Backbone::Resnet50, Backbone::Resnext50, Backbone::Densenet169, Backbone::Regnety32gf];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_list_the_choices() {
        for d in Dataset::ALL {
            assert_eq!(d.as_str().parse::<Dataset>().unwrap(), *d);
        }
        for b in Backbone::ALL {
            assert_eq!(b.as_str().parse::<Backbone>().unwrap(), *b);
        }
        let err = "resnet51".parse::<Backbone>().unwrap_err();
        assert!(err.to_string().contains("resnext50_32x4d"), "{err}");
        assert!(err.to_string().contains("`resnet51`"), "{err}");
    }

    #[test]
    fn serde_uses_the_stable_names() {
        // torchvision's names of the paper's RegNetYs are aliases of their keys.
        assert_eq!("regnet_y_32gf".parse::<Backbone>().unwrap(), Backbone::Regnety32gf);
        assert_eq!(serde_json::from_str::<Backbone>("\"regnet_y_400mf\"").unwrap(), Backbone::Regnety400mf);
        assert_eq!(Backbone::Regnety32gf.as_str(), "regnety_32gf");
        let s = serde_json::to_string(&Backbone::Resnext50).unwrap();
        assert_eq!(s, "\"resnext50_32x4d\"");
        let w: Way = serde_json::from_str("\"sample\"").unwrap();
        assert_eq!(w, Way::Sample);
    }
}
