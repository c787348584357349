//! Compiles the generated parser and the external scanner. Both are committed, so a
//! build needs a C compiler but not the tree-sitter CLI.

fn main() {
    let src = std::path::Path::new("src");
    let mut build = cc::Build::new();
    build.std("c11").include(src).warnings(false);
    #[cfg(target_env = "msvc")]
    build.flag("-utf-8");
    for file in ["parser.c", "scanner.c"] {
        let path = src.join(file);
        build.file(&path);
        println!("cargo:rerun-if-changed={}", path.display());
    }
    println!("cargo:rerun-if-changed=src/tree_sitter/parser.h");
    build.compile("tree-sitter-omega");
}
