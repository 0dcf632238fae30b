use clap::Parser;

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let cli = acdc::cli::Cli::parse();
    match acdc::app::dispatch(cli) {
        Ok(out) => print!("{out}"),
        Err(e) => {
            if let Some(failed) = e.downcast_ref::<acdc::app::RunsFailed>() {
                print!("{}", failed.stdout);
                eprintln!("error: {failed}");
                std::process::exit(2);
            }
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
    }
}
