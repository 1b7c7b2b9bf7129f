//! reimage's verify function: reads every scaling configuration back, writes the final
//! record, and rolls back on a mismatch. See `reimage::functions`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    reimage::functions::main(reimage::model::Step::Verify).await
}
