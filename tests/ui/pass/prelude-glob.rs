//! `use pm_runtime::prelude::*;` brings the method attributes into scope as attribute macros;
//! they clash with nothing of the user's (functions, modules and types of the same names),
//! and inside `#[process_manager]` they are consumed before rustc sees them.
#![deny(warnings)]

use pm_runtime::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct Started {
    pub id: String,
}

pub fn start() -> u8 {
    1
}
pub fn handle() -> u8 {
    2
}
pub mod stop {
    pub const STOPPED: u8 = 3;
}
pub struct Init;
pub fn compensate() {}
pub fn on_error() {}
pub fn upgrade() {}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Saga;

#[process_manager(correlate = id)]
impl Saga {
    #[start]
    fn started(&mut self, _: &Started) {}

    // A method may share a helper attribute's name.
    #[allow(dead_code)]
    fn init(&self) -> u8 {
        start() + handle() + stop::STOPPED
    }
}

fn main() {
    let _ = Init;
    compensate();
    on_error();
    upgrade();
    assert_eq!(start() + handle() + stop::STOPPED, 6);
}
