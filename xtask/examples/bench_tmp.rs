//! Temporary driver for `xtask::bench` until the subcommand is wired (delete afterwards).
fn main() -> anyhow::Result<()> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let args: Vec<String> = std::env::args().collect();
    let opts = xtask::bench::BenchOptions {
        suite: None,
        models: args.get(1).cloned().filter(|s| s != "all"),
        quick: args.iter().any(|a| a == "--quick"),
        no_lme4: args.iter().any(|a| a == "--no-lme4"),
        output: None,
    };
    xtask::bench::run_with(&root, &opts)?;
    Ok(())
}
