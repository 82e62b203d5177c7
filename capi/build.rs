//! Generates the C header with cbindgen (into OUT_DIR; also into include/streamlet.h when
//! STREAMLET_UPDATE_HEADER=1) and gives libstreamlet.so its versioned soname.

use std::env;
use std::path::PathBuf;

fn main() {
    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let major = env::var("CARGO_PKG_VERSION_MAJOR").unwrap();
    let minor = env::var("CARGO_PKG_VERSION_MINOR").unwrap();
    let patch = env::var("CARGO_PKG_VERSION_PATCH").unwrap();

    // The soname carries the ABI major version; 0.x releases promise nothing across minors but keep `.so.0`.
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libstreamlet.so.{major}");

    let mut config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("capi/cbindgen.toml");
    let (ma, mi, pa): (u32, u32, u32) = (major.parse().unwrap(), minor.parse().unwrap(), patch.parse().unwrap());
    config.after_includes = Some(format!(
        "\n/* Version of this header; streamlet_version() gives the library's (compare them at start-up). */\n\
         #define STREAMLET_VERSION_MAJOR {ma}\n#define STREAMLET_VERSION_MINOR {mi}\n#define STREAMLET_VERSION_PATCH {pa}\n\
         /* (major << 16) | (minor << 8) | patch */\n#define STREAMLET_VERSION 0x{:06x}\n#define STREAMLET_VERSION_STR \"{ma}.{mi}.{pa}\"\n",
        (ma << 16) | (mi << 8) | pa
    ));
    // From the source tree alone (with_src), so cbindgen never runs `cargo metadata` inside the build.
    let bindings = cbindgen::Builder::new()
        .with_src(crate_dir.join("src/lib.rs"))
        .with_config(config)
        .generate()
        .expect("cbindgen could not generate include/streamlet.h");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("streamlet.h");
    bindings.write_to_file(&out);
    if env::var_os("STREAMLET_UPDATE_HEADER").is_some_and(|v| v == "1") {
        bindings.write_to_file(crate_dir.join("../include/streamlet.h"));
    }
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=STREAMLET_UPDATE_HEADER");
}
