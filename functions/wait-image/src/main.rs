//! reimage's wait-image function: checks the image once and asks to be invoked again after
//! a delay that follows its progress. See `reimage::functions`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    reimage::functions::main(reimage::model::Step::WaitImage).await
}
