//! reimage's swap-config function: records each scaling configuration's image, then puts the
//! new image into every one of them, all or nothing. See `reimage::functions`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    reimage::functions::main(reimage::model::Step::SwapConfig).await
}
