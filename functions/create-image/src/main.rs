//! reimage's create-image function: checks the source instance and the scaling
//! configurations, snapshots the system disk and creates the image; also serves reimage's
//! HTTP API behind the HTTP trigger and runs the scheduler tick and the sweep on the minute
//! timer. See `reimage::functions`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    reimage::functions::main(reimage::model::Step::CreateImage).await
}
