//! The instance loop: the dispatch in flight and its retries first, then the mailbox (control
//! requests before ordinary ones), then idleness.

use std::sync::Arc;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until};
use tracing::Instrument;

use super::mailbox::{Answer, Control, Delivered, Incoming, Mailbox, Request, Ticket, Via};
use super::outbox::Next;
use super::{Instance, Origin};
use crate::envelope::EventEnvelope;
use crate::error::{DispatchError, Error};
use crate::host::{Begin, Host};
use crate::ids::ProcessId;
use crate::moment::{self, Moment};
use crate::process_manager::{ProcessManager, Role};

/// The command being sent, and when to send the head command again after a failure.
#[derive(Default)]
struct Sending {
    in_flight: Option<JoinHandle<Result<(), DispatchError>>>,
    retry_at: Option<Instant>,
    /// Attempts of the head command so far.
    attempt: u32,
}

impl Sending {
    fn idle(&self) -> bool {
        self.in_flight.is_none() && self.retry_at.is_none()
    }
}

/// Waits for the dispatch in flight; a dispatcher panic counts as a transient failure.
async fn outcome(
    in_flight: &mut Option<JoinHandle<Result<(), DispatchError>>>,
) -> Result<(), DispatchError> {
    let Some(handle) = in_flight.as_mut() else {
        return std::future::pending().await;
    };
    let result = handle.await;
    *in_flight = None;
    result.unwrap_or_else(|join| {
        Err(DispatchError::Unavailable(format!(
            "dispatcher failed: {join}"
        )))
    })
}

pub(crate) async fn run<P: ProcessManager>(
    host: Arc<Host<P>>,
    id: ProcessId,
    generation: u64,
    mailbox: Mailbox<P>,
    begin: Begin<P>,
    loading: Ticket,
) {
    let span = tracing::debug_span!("pm_instance", pm = P::NAME, process_id = %id);
    async move {
        // Every rare or deep await is boxed: the task's own future is what each idle instance
        // keeps in memory, and an inline await is as large as everything below it.
        let loaded = match begin {
            Begin::Load => Box::pin(Instance::load(Arc::clone(&host), id.clone())).await,
            Begin::Wake(instance) => Ok(*instance),
        };
        drop(loading);
        let mut instance = match loaded {
            Ok(instance) => instance,
            Err(error) => {
                // Nothing could be loaded: answer the first request with the cause, then let
                // the next request try again with a fresh task. A task spawned without a
                // request (recovery) ends as soon as no one else holds its mailbox.
                host.retire(&id, generation);
                match mailbox.recv_unless_orphaned().await {
                    Some(Incoming::Request(request)) => reply_error(request, error),
                    Some(Incoming::Control(request)) => reply_control_error(request, error),
                    None => {}
                }
                drain(&host, &id, &mailbox, None);
                return;
            }
        };
        // A running instance with a stash was resumed and stopped before replaying it all,
        // or was resolved offline (`Store::resolve_parked`): replay before anything newer.
        if instance.status().accepts_events()
            && !instance.stash.is_empty()
            && let Err(error) = Box::pin(instance.replay_stash()).await
        {
            tracing::warn!(%error, "replaying the stash after loading failed");
        }
        let mut sending = Sending::default();
        let mut shutdown: Option<oneshot::Sender<()>> = None;
        let mut retire_when_idle = false;
        let config = &host.shared.config;
        let hibernates = config.hibernates();
        // Idle this long, the task hibernates (or, without hibernation, passivates).
        let idle_after = if hibernates {
            config.hibernate_after
        } else {
            config.idle_timeout
        };
        // Re-arming a registered timer on every request costs a trip through the timer
        // driver; instead the time of the last activity is noted, and the timer, when it
        // fires early, is moved to where it should be.
        let mut last_active = Instant::now();
        let idle = tokio::time::sleep(idle_after);
        tokio::pin!(idle);

        loop {
            if shutdown.is_some() {
                if sending.in_flight.is_none() {
                    break;
                }
            } else {
                start_next(&instance, &mut sending, &host);
            }
            if retire_when_idle && sending.idle() && instance.should_retire() {
                break;
            }
            let retry_at = sending.retry_at;
            let mut sleepy = false;
            // Dispatch outcomes and retries before new requests, so a steady stream of
            // events cannot starve the outbox; control requests overtake ordinary ones.
            let take_requests = shutdown.is_none() && !instance.outbox_full();
            tokio::select! {
                biased;
                result = outcome(&mut sending.in_flight) => {
                    sending.attempt += 1;
                    match Box::pin(instance.on_dispatched(result, sending.attempt)).await {
                        Next::Continue => sending.attempt = 0,
                        Next::RetryAfter(wait) => sending.retry_at = Some(Instant::now() + wait),
                    }
                }
                () = sleep_until(retry_at.unwrap_or(last_active)), if retry_at.is_some() && shutdown.is_none() => {
                    sending.retry_at = None;
                }
                incoming = mailbox.recv(take_requests) => match incoming {
                    Incoming::Control(request) => on_control(&instance, request),
                    Incoming::Request(Request::Shutdown { done }) => shutdown = Some(done),
                    Incoming::Request(request) => {
                        if Box::pin(on_request(&mut instance, request)).await {
                            // Resumed from parking: the head command is tried afresh.
                            sending = Sending::default();
                        }
                    }
                },
                () = &mut idle, if shutdown.is_none() && sending.idle() && instance.next_command().is_none() => {
                    let due = last_active + idle_after;
                    if Instant::now() < due {
                        idle.as_mut().reset(due);
                        continue;
                    }
                    if !hibernates {
                        // Passivate: everything is in the store; the next request reloads it.
                        crate::stats::Counters::bump(&host.shared.counters.local().passivated);
                        break;
                    }
                    sleepy = true;
                }
            }
            if sleepy {
                // The instance stays in memory without a task (a sweep passivates it later);
                // a request that slipped in first keeps the task going.
                match host.hibernate(&id, generation, &mailbox, instance) {
                    None => {
                        crate::stats::Counters::bump(&host.shared.counters.local().hibernated);
                        return;
                    }
                    Some(back) => instance = back,
                }
            }
            last_active = Instant::now();
            retire_when_idle = true;
        }

        instance.release();
        host.retire(&id, generation);
        drain(&host, &id, &mailbox, shutdown);
    }
    .instrument(span)
    .await
}

/// Starts sending the head of the outbox when nothing is in flight or waiting.
fn start_next<P: ProcessManager>(
    instance: &Instance<P>,
    sending: &mut Sending,
    host: &Arc<Host<P>>,
) {
    if !sending.idle() {
        return;
    }
    let Some(command) = instance.next_command() else {
        return;
    };
    let command = command.clone();
    tracing::info!(target: "pm_runtime::telemetry", telemetry = "command", pm = P::NAME,
                   process_id = %instance.id, command_type = %command.command_type,
                   command_id = %command.command_id);
    let dispatcher = Arc::clone(&host.shared.dispatcher);
    let span = tracing::debug_span!("pm_command", pm = P::NAME, command_id = %command.command_id,
                                    command_type = %command.command_type);
    // A task of its own: a panicking dispatcher must not take the instance down with it.
    let shared = Arc::clone(&host.shared);
    sending.in_flight = Some(tokio::spawn(
        async move {
            let started = moment::now();
            let result = dispatcher.dispatch(&command).await;
            shared.latencies.dispatch.record(started.elapsed());
            result
        }
        .instrument(span),
    ));
}

fn on_control<P: ProcessManager>(instance: &Instance<P>, request: Control<P>) {
    match request {
        Control::GetState(reply) => {
            let _ = reply.send(Answer::Done(if instance.exists() {
                instance.state_copy()
            } else {
                Err(instance.not_found())
            }));
        }
        Control::Status(reply) => {
            let _ = reply.send(Answer::Done(if instance.exists() {
                Ok(instance.status())
            } else {
                Err(instance.not_found())
            }));
        }
        Control::Compensate(command, reply) => {
            let _ = reply.send(Answer::Done(instance.compensation_of(&command)));
        }
    }
}

/// Handles one ordinary request; true when the instance was resumed from parking. The
/// caller boxes this future, so the task's own stays small while the instance sits idle.
async fn on_request<P: ProcessManager>(instance: &mut Instance<P>, request: Request) -> bool {
    match request {
        Request::Event {
            event,
            role,
            via,
            reply,
            _ticket,
        } => {
            let (result, _) = handle_event(instance, &event, role, via).await;
            if let Some(reply) = reply {
                let _ = reply.send(Answer::Done(result));
            } else if let Err(error) = result {
                tracing::warn!(%error, "event cast to an instance failed");
            }
        }
        Request::Start { reply } => {
            let _ = reply.send(Answer::Done(instance.start().await));
        }
        Request::Timer { timer_id, reply } => {
            let _ = reply.send(Answer::Done(instance.on_timer(timer_id).await));
        }
        Request::Resume { skip, reply } => {
            let _ = reply.send(Answer::Done(instance.resume(skip).await));
            return true;
        }
        Request::Shutdown { done } => {
            let _ = done.send(());
        }
    }
    false
}

/// Handles one event from outside (a publish or a handle), timed and in its own span;
/// returns the result and when handling ended.
pub(crate) async fn handle_event<P: ProcessManager>(
    instance: &mut Instance<P>,
    event: &EventEnvelope,
    role: Role,
    via: Via,
) -> (Result<Delivered, Error>, Moment) {
    let span = tracing::debug_span!("pm_event", event_id = %event.event_id,
                                    event_type = %event.event_type);
    let (direct, origin) = match via {
        Via::Publish => (false, Origin::Mailbox),
        Via::PublishMinted => (false, Origin::Minted),
        Via::Handle => (true, Origin::Mailbox),
    };
    let started = moment::now();
    let result = instance
        .on_event(event, role, direct, origin)
        .instrument(span)
        .await;
    let ended = moment::now();
    let latencies = &instance.host.shared.latencies;
    latencies.event.record(ended.duration_since(started));
    (result, ended)
}

fn reply_error(request: Request, error: crate::error::Error) {
    match request {
        Request::Event {
            reply: Some(reply), ..
        } => {
            let _ = reply.send(Answer::Done(Err(error)));
        }
        Request::Start { reply } | Request::Resume { reply, .. } => {
            let _ = reply.send(Answer::Done(Err(error)));
        }
        Request::Timer { reply, .. } => {
            let _ = reply.send(Answer::Done(Err(error)));
        }
        Request::Event { reply: None, .. } | Request::Shutdown { .. } => {}
    }
}

fn reply_control_error<P>(request: Control<P>, error: crate::error::Error) {
    match request {
        Control::GetState(reply) => {
            let _ = reply.send(Answer::Done(Err(error)));
        }
        Control::Status(reply) => {
            let _ = reply.send(Answer::Done(Err(error)));
        }
        Control::Compensate(_, reply) => {
            let _ = reply.send(Answer::Done(Err(error)));
        }
    }
}

/// After retiring: every request still queued is told to resolve the instance again, and
/// events cast without a reply are delivered again on the caller's behalf.
pub(crate) fn drain<P: ProcessManager>(
    host: &Arc<Host<P>>,
    id: &ProcessId,
    mailbox: &Mailbox<P>,
    shutdown: Option<oneshot::Sender<()>>,
) {
    let (requests, control) = mailbox.close();
    for request in requests {
        match request {
            Request::Event {
                reply: Some(reply), ..
            } => {
                let _ = reply.send(Answer::Gone);
            }
            Request::Start { reply } | Request::Resume { reply, .. } => {
                let _ = reply.send(Answer::Gone);
            }
            Request::Timer { reply, .. } => {
                let _ = reply.send(Answer::Gone);
            }
            Request::Shutdown { done } => {
                let _ = done.send(());
            }
            Request::Event {
                event,
                role,
                via,
                reply: None,
                _ticket,
            } => {
                let host = Arc::clone(host);
                let id = id.clone();
                tokio::spawn(host.redeliver(id, event, role, via, _ticket));
            }
        }
    }
    for request in control {
        match request {
            Control::GetState(reply) => {
                let _ = reply.send(Answer::Gone);
            }
            Control::Status(reply) => {
                let _ = reply.send(Answer::Gone);
            }
            Control::Compensate(_, reply) => {
                let _ = reply.send(Answer::Gone);
            }
        }
    }
    if let Some(done) = shutdown {
        let _ = done.send(());
    }
}
