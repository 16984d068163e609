use clap::Parser;
use rota::cli::{self, Cli};

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    cli::init_logging(
        cli.log_level.as_deref(),
        if cli.serve { "info" } else { "warn" },
    );
    let code = if cli.serve {
        cli::serve::serve(&cli).await
    } else if cli.sync {
        cli::sync::sync(&cli).await
    } else if let Some(file) = &cli.apply {
        cli::apply::apply(&cli, file).await
    } else if let Some(format) = &cli.export {
        cli::export::export(&cli, format).await
    } else {
        eprintln!(
            "rota: the editor is not built yet; start a hub with `rota --serve` (see --help)"
        );
        2
    };
    std::process::exit(code);
}
