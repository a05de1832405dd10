// Build script shared by the crates whose binaries and tests link libtorch (through tch / torch-sys).
//
// torch-sys exports the libtorch library folder it linked against as DEP_TCH_LIBTORCH_LIB. We bake it into
// the binaries as an rpath, so that `target/release/twoway` and the test binaries run without
// LD_LIBRARY_PATH, and we keep libtorch_cuda as a needed library (the linker would drop it with
// --as-needed, since nothing references it by symbol, and CUDA would then look unavailable).
// For twoway-gpu it also compiles csrc/autocast.cpp and csrc/numerics.cpp against libtorch's headers.
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    // twoway-reproduce without its `torch` feature links no libtorch: nothing to do.
    if std::env::var("CARGO_PKG_NAME").as_deref() == Ok("twoway-reproduce")
        && std::env::var_os("CARGO_FEATURE_TORCH").is_none()
    {
        return;
    }
    println!("cargo:rerun-if-changed=../build/link_libtorch.rs");
    let Ok(dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") else {
        panic!("torch-sys did not report its libtorch folder (DEP_TCH_LIBTORCH_LIB); run `make setup` and build through the Makefile, or set LIBTORCH");
    };
    println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    if Path::new(&dir).join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed,-ltorch_cuda,--as-needed");
    }
    if std::env::var("CARGO_PKG_NAME").as_deref() == Ok("twoway-gpu") {
        println!("cargo:rerun-if-changed=csrc/autocast.cpp");
        println!("cargo:rerun-if-changed=csrc/numerics.cpp");
        let include = Path::new(&dir).parent().expect("libtorch lib folder has a parent").join("include");
        cc::Build::new()
            .cpp(true)
            .pic(true)
            .warnings(false)
            .include(&include)
            .include(include.join("torch/csrc/api/include"))
            .flag("-std=c++17")
            .flag("-D_GLIBCXX_USE_CXX11_ABI=1")
            .file("csrc/autocast.cpp")
            .file("csrc/numerics.cpp")
            .compile("twoway_autocast");
    }
}
