//! One module per subcommand.

pub mod package;
pub mod sim;
