//! The rules a process manager's declarations must follow, one `check_*` per rule. Each only
//! reports; none stops the others, so one build lists every mistake.

use syn::{FnArg, ImplItemFn, ReturnType, Type};

use crate::attr::{self, COMMANDS, COMPENSATE, CORRELATE, HELPERS, INIT, ON_ERROR, START, UPGRADE};
use crate::ctxt::Ctxt;
use crate::model::{Model, type_string};

/// Runs every rule on the model.
pub(crate) fn check(cx: &Ctxt, model: &Model<'_>) {
    check_impl_not_generic(cx, model);
    check_impl_not_unsafe(cx, model);
    check_has_start(cx, model);
    check_unique_events(cx, model);
    check_correlation(cx, model);
    check_one_lifecycle_attr(cx, model);
    check_helpers_on_methods(cx, model);
    check_receiver(cx, model);
    check_not_async(cx, model);
    check_not_const(cx, model);
    check_not_unsafe(cx, model);
    check_no_extern(cx, model);
    check_no_generics(cx, model);
    check_context_param(cx, model);
    check_compensations_declared(cx, model);
    check_unique_compensations(cx, model);
    check_commands_declared(cx, model);
    check_return_commands(cx, model);
    check_single_init(cx, model);
    check_init_shape(cx, model);
    check_single_on_error(cx, model);
    check_on_error_returns(cx, model);
    check_single_upgrade(cx, model);
    check_upgrade_shape(cx, model);
}

/// Every method carrying a lifecycle attribute, with the attribute's name for messages.
fn lifecycle_methods<'m>(
    model: &'m Model<'_>,
) -> impl Iterator<Item = (&'m ImplItemFn, &'static str)> {
    let handlers = model
        .handlers
        .iter()
        .map(|h| (h.method, attr::helper_name(h.attr)));
    let compensators = model.compensators.iter().map(|c| (c.method, COMPENSATE));
    let inits = model.inits.iter().map(|i| (i.method, INIT));
    let on_errors = model.on_errors.iter().map(|o| (o.method, ON_ERROR));
    let upgrades = model.upgrades.iter().map(|u| (u.method, UPGRADE));
    handlers
        .chain(compensators)
        .chain(inits)
        .chain(on_errors)
        .chain(upgrades)
}

/// Methods that run on an instance and so take `&mut self` (not `#[init]`, `#[upgrade]`).
fn instance_methods<'m>(
    model: &'m Model<'_>,
) -> impl Iterator<Item = (&'m ImplItemFn, &'static str)> {
    lifecycle_methods(model).filter(|(_, name)| *name != INIT && *name != UPGRADE)
}

/// A process manager is one concrete state type, stored and named as such.
fn check_impl_not_generic(cx: &Ctxt, model: &Model<'_>) {
    let generics = &model.item.generics;
    if !generics.params.is_empty() || generics.where_clause.is_some() {
        cx.error_spanned_by(
            generics,
            "`#[process_manager]` does not support generic impl blocks; implement it for one concrete state type",
        );
    }
}

/// Nothing about a process manager is unsafe; an `unsafe impl` is a mistake.
fn check_impl_not_unsafe(cx: &Ctxt, model: &Model<'_>) {
    if let Some(unsafety) = &model.item.unsafety {
        cx.error_spanned_by(
            unsafety,
            "`#[process_manager]` impl blocks cannot be `unsafe`; remove `unsafe`",
        );
    }
}

/// Without a start event no instance can ever exist (check 1).
/// Any `#[start]` counts, even on a method the model could not take in: that method has its
/// own error, and a second one about a missing start would only be noise.
fn check_has_start(cx: &Ctxt, model: &Model<'_>) {
    let has_start = model.item.items.iter().any(|item| match item {
        syn::ImplItem::Fn(method) => method.attrs.iter().any(|a| a.path().is_ident(START)),
        _ => false,
    });
    if !has_start {
        cx.error_spanned_by(
            model.self_ty,
            format!(
                "process manager `{}` has no `#[start]` handler; mark the handler of the event that begins the process with `#[start]` or `#[start(new)]`",
                model.ident
            ),
        );
    }
}

/// One event type routes to one handler, or dispatch would be ambiguous (check 2).
fn check_unique_events(cx: &Ctxt, model: &Model<'_>) {
    for (i, handler) in model.handlers.iter().enumerate() {
        let key = type_string(handler.event);
        if let Some(first) = model.handlers[..i]
            .iter()
            .find(|h| type_string(h.event) == key)
        {
            cx.error_spanned_by(
                handler.event,
                format!(
                    "event type `{key}` is already handled by `{}`; an event type has one handler per process manager",
                    first.ident()
                ),
            );
        }
    }
}

/// The router must know which instance each event reaches.
fn check_correlation(cx: &Ctxt, model: &Model<'_>) {
    if model.args.correlate.is_none() && model.args.unreliable(CORRELATE) {
        return; // a misspelt or malformed `correlate` was reported already
    }
    for handler in model.handlers.iter().filter(|h| h.correlate.is_none()) {
        cx.error_spanned_by(
            handler.attr,
            format!(
                "handler `{}` has no correlation; add `correlate = field` to `#[process_manager(...)]`, or `correlate = field` or `correlate_with = path` to this attribute",
                handler.ident()
            ),
        );
    }
}

/// A method has one role in the lifecycle.
fn check_one_lifecycle_attr(cx: &Ctxt, model: &Model<'_>) {
    for (method, extra) in &model.extra_attrs {
        cx.error_spanned_by(
            extra,
            format!(
                "`{}` already has a lifecycle attribute; a method takes only one of {}",
                method.sig.ident,
                attr::one_of(HELPERS)
            ),
        );
    }
}

/// Lifecycle attributes mean something only on methods (check 11, inside the impl).
fn check_helpers_on_methods(cx: &Ctxt, model: &Model<'_>) {
    for attr in &model.misplaced {
        cx.error_spanned_by(
            attr,
            format!("`#[{}]` applies to methods only", attr::helper_name(attr)),
        );
    }
}

/// Handlers mutate the instance's state, which the runtime owns (check 5).
fn check_receiver(cx: &Ctxt, model: &Model<'_>) {
    for (method, name) in instance_methods(model) {
        match method.sig.receiver() {
            None => cx.error_spanned_by(
                &method.sig.ident,
                format!("a `#[{name}]` method takes `&mut self` as its first parameter"),
            ),
            Some(receiver) if !is_mut_self_ref(&receiver.ty) => cx.error_spanned_by(
                receiver,
                format!(
                    "a `#[{name}]` method takes `&mut self`; found `{}`",
                    type_string(receiver)
                ),
            ),
            Some(_) => {}
        }
    }
}

fn is_mut_self_ref(ty: &Type) -> bool {
    matches!(ty, Type::Reference(r) if r.mutability.is_some()
        && matches!(&*r.elem, Type::Path(p) if p.qself.is_none() && p.path.is_ident("Self")))
}

/// Handlers run inside the instance's task with its state borrowed: effects are commands
/// (check 5).
fn check_not_async(cx: &Ctxt, model: &Model<'_>) {
    for (method, name) in lifecycle_methods(model) {
        if let Some(token) = &method.sig.asyncness {
            let fix = if name == INIT || name == UPGRADE {
                "remove `async`"
            } else {
                "remove `async` and return commands for the effects"
            };
            cx.error_spanned_by(
                token,
                format!("a `#[{name}]` method cannot be `async`; {fix}"),
            );
        }
    }
}

/// The runtime calls handlers at run time with run-time state.
fn check_not_const(cx: &Ctxt, model: &Model<'_>) {
    for (method, name) in lifecycle_methods(model) {
        if let Some(token) = &method.sig.constness {
            cx.error_spanned_by(
                token,
                format!("a `#[{name}]` method cannot be `const`; remove `const`"),
            );
        }
    }
}

/// Generated code cannot uphold an unsafe method's contract.
fn check_not_unsafe(cx: &Ctxt, model: &Model<'_>) {
    for (method, name) in lifecycle_methods(model) {
        if let Some(token) = &method.sig.unsafety {
            cx.error_spanned_by(
                token,
                format!("a `#[{name}]` method cannot be `unsafe`; remove `unsafe`"),
            );
        }
    }
}

/// Handlers are called as Rust methods; a foreign ABI serves nothing.
fn check_no_extern(cx: &Ctxt, model: &Model<'_>) {
    for (method, name) in lifecycle_methods(model) {
        if let Some(abi) = &method.sig.abi {
            cx.error_spanned_by(
                abi,
                format!("a `#[{name}]` method cannot be `extern`; remove the ABI"),
            );
        }
    }
}

/// The dispatch table calls each handler with one concrete type (check 5).
fn check_no_generics(cx: &Ctxt, model: &Model<'_>) {
    for (method, name) in lifecycle_methods(model) {
        let generics = &method.sig.generics;
        if !generics.params.is_empty() || generics.where_clause.is_some() {
            cx.error_spanned_by(
                generics,
                format!("a `#[{name}]` method cannot be generic; name the concrete type it takes"),
            );
        }
    }
}

/// The context is handed over mutably by the instance (check 5).
fn check_context_param(cx: &Ctxt, model: &Model<'_>) {
    let handlers = model.handlers.iter().map(|h| h.ctx);
    let compensators = model.compensators.iter().map(|c| c.ctx);
    let on_errors = model.on_errors.iter().map(|o| o.ctx);
    for ctx in handlers.chain(compensators).chain(on_errors).flatten() {
        let Type::Reference(reference) = &*ctx.ty else {
            cx.error_spanned_by(
                &ctx.ty,
                "the context parameter must be `&mut Context<Self>`",
            );
            continue;
        };
        if reference.mutability.is_none() {
            cx.error_spanned_by(
                &ctx.ty,
                "the context parameter must be `&mut Context<Self>`",
            );
        } else if let Some(other) = foreign_context(model, &reference.elem) {
            cx.error_spanned_by(
                other,
                format!(
                    "the context of a `{}` handler is `Context<Self>`, not `Context<{}>`",
                    model.ident,
                    type_string(other)
                ),
            );
        }
    }
}

/// `X` in `Context<X>` when `X` is plainly another type than the state (aliases of the
/// context pass, and rustc checks them).
fn foreign_context<'t>(model: &Model<'_>, ty: &'t Type) -> Option<&'t Type> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident != "Context" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    let [syn::GenericArgument::Type(arg)] = args.args.iter().collect::<Vec<_>>()[..] else {
        return None;
    };
    let ok = match arg {
        Type::Path(p) if p.qself.is_none() => {
            p.path.is_ident("Self")
                || p.path
                    .segments
                    .last()
                    .is_some_and(|s| s.ident == *model.ident)
        }
        _ => false,
    };
    (!ok).then_some(arg)
}

fn is_declared(model: &Model<'_>, ty: &syn::Path) -> bool {
    let Some(last) = ty.segments.last() else {
        return false;
    };
    last.arguments.is_none()
        && model
            .args
            .commands
            .iter()
            .any(|c| c.segments.last().is_some_and(|s| s.ident == last.ident))
}

/// A compensation undoes a command this process manager sends; others never complete here
/// (check 6).
fn check_compensations_declared(cx: &Ctxt, model: &Model<'_>) {
    if model.args.broken.contains(&COMMANDS) {
        return; // the list is partial
    }
    for compensator in &model.compensators {
        if !is_declared(model, &compensator.command) {
            cx.error_spanned_by(
                &compensator.command,
                format!(
                    "`{}` is not in `commands(...)` of `{}`; only commands this process manager sends can be compensated",
                    type_string(&compensator.command),
                    model.ident
                ),
            );
        }
    }
}

/// One completed command has one undo (check 6).
fn check_unique_compensations(cx: &Ctxt, model: &Model<'_>) {
    let last = |p: &syn::Path| p.segments.last().map(|s| s.ident.clone());
    for (i, compensator) in model.compensators.iter().enumerate() {
        let key = last(&compensator.command);
        if let Some(first) = model.compensators[..i]
            .iter()
            .find(|c| last(&c.command) == key)
        {
            cx.error_spanned_by(
                &compensator.command,
                format!(
                    "`{}` is already compensated by `{}`; a command has one compensation",
                    type_string(&compensator.command),
                    first.method.sig.ident
                ),
            );
        }
    }
}

/// Every returned command must be in the command enum the runtime dispatches.
fn check_commands_declared(cx: &Ctxt, model: &Model<'_>) {
    if !model.args.commands.is_empty() || model.args.unreliable(COMMANDS) {
        return;
    }
    let handlers = model.handlers.iter().map(|h| (h.method, &h.returns));
    let compensators = model.compensators.iter().map(|c| (c.method, &c.returns));
    for (method, returns) in handlers.chain(compensators) {
        if !returns.command_types().is_empty()
            && let ReturnType::Type(_, ty) = &method.sig.output
        {
            cx.error_spanned_by(
                ty,
                format!(
                    "`{}` returns commands but `#[process_manager]` declares none; list them in `commands(...)`",
                    method.sig.ident
                ),
            );
        }
    }
}

/// A handler returning an undeclared command would have no variant to travel in (check 7).
fn check_return_commands(cx: &Ctxt, model: &Model<'_>) {
    if model.args.commands.is_empty() || model.args.broken.contains(&COMMANDS) {
        return; // reported once per handler by `check_commands_declared`
    }
    let handlers = model.handlers.iter().map(|h| &h.returns);
    let compensators = model.compensators.iter().map(|c| &c.returns);
    for ty in handlers.chain(compensators).flat_map(|r| r.command_types()) {
        let ok = match ty {
            Type::Path(p) if p.qself.is_none() => {
                p.path.is_ident(&model.command_enum) || is_declared(model, &p.path)
            }
            _ => false,
        };
        if !ok {
            cx.error_spanned_by(
                ty,
                format!(
                    "`{}` is not in `commands(...)` of `{}`; add it there, or return `{}`",
                    type_string(ty),
                    model.ident,
                    model.command_enum
                ),
            );
        }
    }
}

/// The initial state is built once per instance, by one function.
fn check_single_init(cx: &Ctxt, model: &Model<'_>) {
    if let [first, rest @ ..] = model.inits.as_slice() {
        for init in rest {
            cx.error_spanned_by(
                init.attr,
                format!(
                    "`#[init]` is already on `{}`; a process manager has one `#[init]`",
                    first.method.sig.ident
                ),
            );
        }
    }
}

/// `#[init]` is called as `fn(&ProcessId) -> Self`, before any state exists.
fn check_init_shape(cx: &Ctxt, model: &Model<'_>) {
    const SHAPE: &str = "expected `fn(id: &ProcessId) -> Self`";
    for init in &model.inits {
        let sig = &init.method.sig;
        let mut inputs = sig.inputs.iter();
        match (inputs.next(), inputs.next()) {
            (Some(FnArg::Receiver(receiver)), _) => cx.error_spanned_by(
                receiver,
                format!("`#[init]` builds the state and takes no `self`; {SHAPE}"),
            ),
            (Some(FnArg::Typed(param)), None) if !matches!(&*param.ty, Type::Reference(_)) => cx
                .error_spanned_by(
                    &param.ty,
                    format!("`#[init]` takes the process id by reference; {SHAPE}"),
                ),
            (Some(FnArg::Typed(_)), None) => {}
            (None, _) => cx.error_spanned_by(
                &sig.ident,
                format!("`#[init]` takes the process id; {SHAPE}"),
            ),
            (Some(_), Some(_)) => cx.error_spanned_by(
                &sig.inputs,
                format!("`#[init]` takes one parameter; {SHAPE}"),
            ),
        }
        let returns_self = match &sig.output {
            ReturnType::Type(_, ty) => match &**ty {
                Type::Path(p) if p.qself.is_none() => {
                    p.path.is_ident("Self") || p.path.is_ident(model.ident)
                }
                _ => false,
            },
            ReturnType::Default => false,
        };
        if !returns_self {
            let message = format!("`#[init]` returns the initial state; {SHAPE}");
            match &sig.output {
                ReturnType::Type(_, ty) => cx.error_spanned_by(ty, message),
                ReturnType::Default => cx.error_spanned_by(&sig.ident, message),
            }
        }
    }
}

/// One policy decides about a failed command.
fn check_single_on_error(cx: &Ctxt, model: &Model<'_>) {
    if let [first, rest @ ..] = model.on_errors.as_slice() {
        for on_error in rest {
            cx.error_spanned_by(
                on_error.attr,
                format!(
                    "`#[on_error]` is already on `{}`; a process manager has one `#[on_error]`",
                    first.method.sig.ident
                ),
            );
        }
    }
}

/// The runtime acts on the returned decision; a method returning nothing decides nothing.
fn check_on_error_returns(cx: &Ctxt, model: &Model<'_>) {
    for on_error in &model.on_errors {
        if let ReturnType::Default = on_error.method.sig.output {
            cx.error_spanned_by(
                &on_error.method.sig.ident,
                format!(
                    "`#[on_error]` returns what to do about the failure; expected `fn {}(&mut self, failure: &CommandFailure) -> ErrorAction<{}>`",
                    on_error.method.sig.ident, model.command_enum
                ),
            );
        }
    }
}

/// One function reads every older state.
fn check_single_upgrade(cx: &Ctxt, model: &Model<'_>) {
    if let [first, rest @ ..] = model.upgrades.as_slice() {
        for upgrade in rest {
            cx.error_spanned_by(
                upgrade.attr,
                format!(
                    "`#[upgrade]` is already on `{}`; a process manager has one `#[upgrade]`",
                    first.method.sig.ident
                ),
            );
        }
    }
}

/// `#[upgrade]` becomes `ProcessManager::upgrade`, called before any instance exists.
fn check_upgrade_shape(cx: &Ctxt, model: &Model<'_>) {
    const SHAPE: &str =
        "expected `fn(from_version: u32, state: serde_json::Value) -> Result<Self, E>`";
    for upgrade in &model.upgrades {
        let sig = &upgrade.method.sig;
        if let Some(receiver) = sig.receiver() {
            cx.error_spanned_by(
                receiver,
                format!("`#[upgrade]` builds the state and takes no `self`; {SHAPE}"),
            );
        } else if sig.inputs.len() != 2 {
            let message =
                format!("`#[upgrade]` takes the stored version and the stored state; {SHAPE}");
            if sig.inputs.is_empty() {
                cx.error_spanned_by(&sig.ident, message);
            } else {
                cx.error_spanned_by(&sig.inputs, message);
            }
        }
        let returns_result = match &sig.output {
            ReturnType::Type(_, ty) => returns_result_of_self(model, ty),
            ReturnType::Default => false,
        };
        if !returns_result {
            let message = format!(
                "`#[upgrade]` returns the upgraded state or why it cannot be read; {SHAPE}"
            );
            match &sig.output {
                ReturnType::Type(_, ty) => cx.error_spanned_by(ty, message),
                ReturnType::Default => cx.error_spanned_by(&sig.ident, message),
            }
        }
    }
}

/// `Result<Self, _>` (or `Result<State, _>`), by its syntax.
fn returns_result_of_self(model: &Model<'_>, ty: &Type) -> bool {
    let Type::Path(path) = ty else { return false };
    let Some(last) = path.path.segments.last() else {
        return false;
    };
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return false;
    };
    last.ident == "Result"
        && matches!(args.args.first(), Some(syn::GenericArgument::Type(Type::Path(p)))
            if p.qself.is_none() && (p.path.is_ident("Self") || p.path.is_ident(model.ident)))
}
