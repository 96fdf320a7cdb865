//! The command failure policy: retries with backoff, compensation order, `#[on_error]`.

#![allow(clippy::unwrap_used)] // test helpers may panic: a failure is the point

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::Recorder;
use pm_runtime::{
    Command, CommandDispatcher, CommandEnvelope, CommandFailure, DispatchError, ErrorAction, Event,
    InstanceStatus, RetryPolicy, Runtime, process_manager,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct TripBooked {
    trip: String,
}

macro_rules! step {
    ($name:ident, $aggregate:literal) => {
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Command)]
        #[command(aggregate = $aggregate, id = trip)]
        struct $name {
            trip: String,
        }
    };
}
step!(BookFlight, "flight");
step!(BookHotel, "hotel");
step!(BookCar, "car");
step!(BookTour, "tour");
step!(CancelFlight, "flight");
step!(CancelHotel, "hotel");
step!(CancelCar, "car");

/// Four steps sent in order; the first three have an undo.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Trip {
    undone: Vec<String>,
}

#[process_manager(
    name = "trip",
    correlate = trip,
    commands(BookFlight, BookHotel, BookCar, BookTour, CancelFlight, CancelHotel, CancelCar)
)]
impl Trip {
    #[start]
    fn booked(&mut self, e: &TripBooked) -> Vec<TripCommand> {
        let trip = e.trip.clone();
        vec![
            BookFlight { trip: trip.clone() }.into(),
            BookHotel { trip: trip.clone() }.into(),
            BookCar { trip: trip.clone() }.into(),
            BookTour { trip }.into(),
        ]
    }

    #[compensate(BookFlight)]
    fn unflight(&mut self, c: &BookFlight) -> CancelFlight {
        self.undone.push("flight".into());
        CancelFlight {
            trip: c.trip.clone(),
        }
    }

    #[compensate(BookHotel)]
    fn unhotel(&mut self, c: &BookHotel) -> CancelHotel {
        self.undone.push("hotel".into());
        CancelHotel {
            trip: c.trip.clone(),
        }
    }

    #[compensate(BookCar)]
    fn uncar(&mut self, c: &BookCar, ctx: &mut pm_runtime::Context<Self>) -> CancelCar {
        let failure = ctx.failure().expect("compensation knows its failure");
        self.undone
            .push(format!("car after {}", failure.command.command_type));
        CancelCar {
            trip: c.trip.clone(),
        }
    }
}

#[tokio::test]
async fn compensation_runs_in_reverse_order_of_completion() {
    let recorder = Recorder::default();
    recorder.reject("BookTour", "t-1");
    let rt = Runtime::builder()
        .dispatcher(recorder.clone())
        .register::<Trip>()
        .start()
        .await
        .unwrap();
    rt.publish(TripBooked { trip: "t-1".into() }).await.unwrap();
    rt.settled().await;
    assert_eq!(
        recorder.log_for("t-1"),
        [
            "BookFlight",
            "BookHotel",
            "BookCar",
            "BookTour",
            "CancelCar",
            "CancelHotel",
            "CancelFlight"
        ]
    );
    let state: Trip = rt.state("t-1").await.unwrap();
    assert_eq!(state.undone, ["car after BookTour", "hotel", "flight"]);
    assert_eq!(
        rt.status::<Trip>("t-1").await.unwrap(),
        InstanceStatus::Compensated
    );
}

/// Fails every command with `Unavailable`, recording when each attempt happened.
#[derive(Clone, Default)]
struct Flaky {
    attempts: Arc<Mutex<Vec<(String, tokio::time::Instant)>>>,
    fail_types: Arc<Mutex<Vec<&'static str>>>,
}

impl CommandDispatcher for Flaky {
    async fn dispatch(&self, command: &CommandEnvelope) -> Result<(), DispatchError> {
        self.attempts.lock().unwrap().push((
            command.command_type.to_string(),
            tokio::time::Instant::now(),
        ));
        if self
            .fail_types
            .lock()
            .unwrap()
            .contains(&&*command.command_type)
        {
            return Err(DispatchError::Unavailable("down".into()));
        }
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn transient_failures_retry_with_growing_backoff_up_to_the_bound_then_compensate() {
    let flaky = Flaky::default();
    flaky.fail_types.lock().unwrap().push("BookHotel");
    let policy = RetryPolicy {
        max_attempts: 4,
        initial_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_secs(10),
    };
    let rt = Runtime::builder()
        .dispatcher(flaky.clone())
        .command_retry_for::<Trip>(policy)
        .register::<Trip>()
        .start()
        .await
        .unwrap();
    rt.publish(TripBooked { trip: "t-2".into() }).await.unwrap();
    rt.settled().await;

    let attempts = flaky.attempts.lock().unwrap().clone();
    let hotel: Vec<_> = attempts
        .iter()
        .filter(|(t, _)| t == "BookHotel")
        .map(|(_, at)| *at)
        .collect();
    assert_eq!(hotel.len(), 4, "exactly max_attempts attempts");
    let gaps: Vec<Duration> = hotel.windows(2).map(|w| w[1] - w[0]).collect();
    for (i, gap) in gaps.iter().enumerate() {
        let ceiling = policy.ceiling(i as u32 + 1);
        assert!(
            *gap >= ceiling / 2 && *gap <= ceiling + Duration::from_millis(5),
            "gap {i}: {gap:?} vs {ceiling:?}"
        );
    }
    assert!(gaps[2] > gaps[0], "the backoff grows: {gaps:?}");
    let types: Vec<_> = attempts.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        types.last(),
        Some(&"CancelFlight"),
        "then the flight is compensated: {types:?}"
    );
    assert_eq!(
        rt.status::<Trip>("t-2").await.unwrap(),
        InstanceStatus::Compensated
    );
    assert_eq!(rt.stats().command_retries, 3);
}

// `#[on_error]` decides per failure.

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct Go {
    id: String,
    plan: String,
}

step!(Primary, "primary");
step!(Fallback, "fallback");
step!(After, "after");

#[derive(Debug, Default, Serialize, Deserialize)]
struct Chooser {
    plan: String,
    failures: Vec<u32>,
}

#[process_manager(name = "chooser", correlate = id, commands(Primary, Fallback, After))]
impl Chooser {
    #[start]
    fn go(&mut self, e: &Go) -> Vec<ChooserCommand> {
        self.plan = e.plan.clone();
        vec![
            Primary { trip: e.id.clone() }.into(),
            After { trip: e.id.clone() }.into(),
        ]
    }

    #[on_error]
    fn failed(&mut self, failure: &CommandFailure) -> ErrorAction<ChooserCommand> {
        self.failures.push(failure.attempt);
        match self.plan.as_str() {
            "retry-twice" if failure.attempt < 3 => ErrorAction::Retry {
                after: Duration::from_millis(5),
            },
            "retry-twice" => ErrorAction::Skip,
            "fallback" => ErrorAction::Continue(vec![
                Fallback {
                    trip: failure.command.aggregate_id.clone(),
                }
                .into(),
            ]),
            "skip" => ErrorAction::Skip,
            "park" => ErrorAction::Park,
            _ => ErrorAction::Compensate,
        }
    }
}

async fn chooser(plan: &str) -> (Runtime, Recorder) {
    let recorder = Recorder::default();
    recorder.reject("Primary", plan);
    let rt = Runtime::builder()
        .dispatcher(recorder.clone())
        .register::<Chooser>()
        .start()
        .await
        .unwrap();
    rt.publish(Go {
        id: plan.into(),
        plan: plan.into(),
    })
    .await
    .unwrap();
    rt.settled().await;
    (rt, recorder)
}

#[tokio::test]
async fn on_error_retry_then_skip_sends_the_rest() {
    let (rt, recorder) = chooser("retry-twice").await;
    assert_eq!(
        recorder.log_for("retry-twice"),
        ["Primary", "Primary", "Primary", "After"]
    );
    assert_eq!(
        rt.state::<Chooser>("retry-twice").await.unwrap().failures,
        [1, 2, 3]
    );
}

#[tokio::test]
async fn on_error_continue_replaces_the_failed_and_pending_commands() {
    let (rt, recorder) = chooser("fallback").await;
    assert_eq!(recorder.log_for("fallback"), ["Primary", "Fallback"]);
    assert_eq!(
        rt.status::<Chooser>("fallback").await.unwrap(),
        InstanceStatus::Running
    );
}

#[tokio::test]
async fn on_error_skip_goes_on_and_park_waits_for_an_operator() {
    let (_, recorder) = chooser("skip").await;
    assert_eq!(recorder.log_for("skip"), ["Primary", "After"]);

    let (rt, recorder) = chooser("park").await;
    assert_eq!(recorder.log_for("park"), ["Primary"]);
    assert_eq!(
        rt.status::<Chooser>("park").await.unwrap(),
        InstanceStatus::Parked
    );
    let parked = rt.parked().await.unwrap();
    assert_eq!(parked.len(), 1);
    let dead = parked[0].dead_letter.as_ref().unwrap();
    assert_eq!(dead.command.as_ref().unwrap().command_type, "Primary");
    assert!(dead.error.contains("Primary refused"), "{}", dead.error);

    // The operator skips the failed command: the saga goes on with the next one.
    rt.skip_parked::<Chooser>("park").await.unwrap();
    rt.settled().await;
    assert_eq!(recorder.log_for("park"), ["Primary", "After"]);
    assert_eq!(
        rt.status::<Chooser>("park").await.unwrap(),
        InstanceStatus::Running
    );
}

#[tokio::test]
async fn a_compensation_that_keeps_failing_parks_the_instance() {
    let recorder = Recorder::default();
    recorder.reject("BookTour", "t-3");
    recorder.reject("CancelHotel", "t-3");
    let rt = Runtime::builder()
        .dispatcher(recorder.clone())
        .register::<Trip>()
        .start()
        .await
        .unwrap();
    rt.publish(TripBooked { trip: "t-3".into() }).await.unwrap();
    rt.settled().await;
    assert_eq!(
        rt.status::<Trip>("t-3").await.unwrap(),
        InstanceStatus::Parked
    );
    // CancelFlight waits behind the failed CancelHotel: nothing loops, nothing is skipped.
    assert_eq!(
        recorder.log_for("t-3").last().map(String::as_str),
        Some("CancelHotel")
    );
    assert_eq!(
        recorder
            .log_for("t-3")
            .iter()
            .filter(|t| *t == "CancelHotel")
            .count(),
        1
    );
}
