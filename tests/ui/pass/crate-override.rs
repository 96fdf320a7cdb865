//! `crate = "..."`: the runtime under another name (a renamed `extern crate`) or behind a
//! re-export module.
extern crate pm_runtime as rt;

use serde::{Deserialize, Serialize};

/// What a facade crate would do: re-export the runtime.
pub mod facade {
    pub use rt::*;
}

#[derive(Debug, Clone, Serialize, Deserialize, rt::Event)]
#[event(crate = "::rt")]
pub struct Placed {
    pub id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, facade::Command)]
#[command(aggregate = "payment", id = id, crate = "crate::facade")]
pub struct Charge {
    pub id: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ViaExternCrate;

#[rt::process_manager(crate = "::rt", correlate = id, commands(Charge))]
impl ViaExternCrate {
    #[start]
    fn placed(&mut self, e: &Placed, ctx: &mut rt::Context<Self>) -> Charge {
        let _ = ctx.process_id();
        Charge { id: e.id.clone() }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ViaFacade;

#[facade::process_manager(crate = "crate::facade", correlate = id, commands(Charge))]
impl ViaFacade {
    #[start]
    fn placed(&mut self, e: &Placed) -> Option<ViaFacadeCommand> {
        Some(Charge { id: e.id.clone() }.into())
    }
}

fn main() {
    assert_eq!(
        <ViaExternCrate as rt::ProcessManager>::NAME,
        "via_extern_crate"
    );
    assert_eq!(<ViaFacade as facade::ProcessManager>::NAME, "via_facade");
}
