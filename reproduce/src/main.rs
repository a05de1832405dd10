use std::process::ExitCode;

fn main() -> ExitCode {
    twoway_reproduce::cli::main()
}
