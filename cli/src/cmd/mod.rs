//! One module per subcommand.

pub mod bench;
pub mod demo;
pub mod doctor;
pub mod execution;
pub mod image;
pub mod images;
pub mod notify;
pub mod package;
pub mod records;
pub mod rollout;
pub mod run;
pub mod serve;
pub mod sim;
pub mod task;
pub mod up;

/// Completes on SIGINT or SIGTERM: the shutdown of `reimage serve` and `reimage sim`.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
