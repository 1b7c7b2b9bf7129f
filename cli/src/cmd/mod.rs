//! One module per subcommand.

pub mod package;
pub mod serve;
pub mod sim;
pub mod task;
