//! A process manager with many handlers of every role.
use pm_runtime::prelude::*;
use serde::{Deserialize, Serialize};

macro_rules! events {
    ($($name:ident),*) => {$(
        #[derive(Debug, Clone, Serialize, Deserialize, Event)]
        pub struct $name { pub id: u64 }
    )*};
}
events!(S1, S2, S3, H1, H2, H3, H4, H5, H6, H7, H8, H9, H10, T1, T2);

#[derive(Debug, Clone, Serialize, Deserialize, Command)]
#[command(aggregate = "log", id = id)]
pub struct Log {
    pub id: u64,
    pub step: u8,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Steps {
    pub seen: Vec<u8>,
}

impl Steps {
    fn step(&mut self, id: u64, step: u8) -> Log {
        self.seen.push(step);
        Log { id, step }
    }
}

#[process_manager(correlate = id, commands(Log))]
impl Steps {
    #[start]
    fn s1(&mut self, e: &S1) -> Log {
        self.step(e.id, 1)
    }
    #[start]
    fn s2(&mut self, e: &S2) -> Log {
        self.step(e.id, 2)
    }
    #[start(new)]
    fn s3(&mut self, e: &S3) -> Log {
        self.step(e.id, 3)
    }
    #[handle]
    fn h1(&mut self, e: &H1) -> Log {
        self.step(e.id, 11)
    }
    #[handle]
    fn h2(&mut self, e: &H2) -> Log {
        self.step(e.id, 12)
    }
    #[handle]
    fn h3(&mut self, e: &H3) -> Log {
        self.step(e.id, 13)
    }
    #[handle]
    fn h4(&mut self, e: &H4) -> Log {
        self.step(e.id, 14)
    }
    #[handle]
    fn h5(&mut self, e: &H5) -> Log {
        self.step(e.id, 15)
    }
    #[handle]
    fn h6(&mut self, e: &H6) -> Log {
        self.step(e.id, 16)
    }
    #[handle]
    fn h7(&mut self, e: &H7) -> Log {
        self.step(e.id, 17)
    }
    #[handle]
    fn h8(&mut self, e: &H8) -> Log {
        self.step(e.id, 18)
    }
    #[handle]
    fn h9(&mut self, e: &H9) -> Log {
        self.step(e.id, 19)
    }
    #[handle]
    fn h10(&mut self, e: &H10) -> Log {
        self.step(e.id, 20)
    }
    #[stop]
    fn t1(&mut self, e: &T1) -> Log {
        self.step(e.id, 31)
    }
    #[stop]
    fn t2(&mut self, e: &T2) -> Log {
        self.step(e.id, 32)
    }

    // Ordinary methods live beside the handlers.
    pub fn count(&self) -> usize {
        self.seen.len()
    }
}

fn main() {
    let routes = <Steps as ProcessManager>::EVENTS;
    assert_eq!(routes.len(), 15);
    assert_eq!(routes[2].role, pm_runtime::Role::StartNew);
    assert_eq!(routes[14].role, pm_runtime::Role::Stop);
    assert_eq!(Steps::default().count(), 0);
}
