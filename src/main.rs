//! The motiongate command-line tool.
fn main() {
    println!("motiongate");
}
