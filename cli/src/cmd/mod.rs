//! One module per subcommand.

pub mod bench;
pub mod demo;
pub mod execution;
pub mod image;
pub mod package;
pub mod run;
pub mod serve;
pub mod sim;
pub mod task;
