//! reimage's rollout function: runs the phases of a rolling update that are due, then asks
//! to be invoked again when the next one is. See `reimage::rollout::driver`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    reimage::functions::main_rollout().await
}
