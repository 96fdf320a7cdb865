//! The typed model of a `#[process_manager]` impl block. It borrows the syn tree, so every
//! later error and every generated token can point back at what the user wrote.
//!
//! Building the model reports only what cannot be represented (a handler without an event
//! parameter, a return type of no known shape); rules that relate parts of the model to each
//! other live in `validate`.

use proc_macro2::Ident;
use quote::format_ident;
use syn::{
    Attribute, FnArg, GenericArgument, ImplItem, ImplItemFn, ItemImpl, PatType, Path,
    PathArguments, ReturnType, Type,
};

use crate::attr::{self, Correlate, Lifecycle, PmArgs, Role};
use crate::ctxt::Ctxt;

/// A `#[process_manager]` impl block.
pub(crate) struct Model<'a> {
    pub(crate) item: &'a ItemImpl,
    pub(crate) self_ty: &'a Type,
    /// The state type's name (the last segment of the self type).
    pub(crate) ident: &'a Ident,
    pub(crate) args: &'a PmArgs,
    /// `ProcessManager::NAME`: `name = "..."` or the snake_case type name.
    pub(crate) name: String,
    /// The generated `<Type>Command` enum.
    pub(crate) command_enum: Ident,
    pub(crate) handlers: Vec<Handler<'a>>,
    pub(crate) compensators: Vec<Compensator<'a>>,
    pub(crate) inits: Vec<Init<'a>>,
    pub(crate) on_errors: Vec<OnError<'a>>,
    pub(crate) upgrades: Vec<Upgrade<'a>>,
    /// Lifecycle attributes after the first on one method.
    pub(crate) extra_attrs: Vec<(&'a ImplItemFn, &'a Attribute)>,
    /// Lifecycle attributes on impl items that are not methods.
    pub(crate) misplaced: Vec<&'a Attribute>,
}

/// A `#[start]`, `#[start(new)]`, `#[handle]` or `#[stop]` method.
pub(crate) struct Handler<'a> {
    pub(crate) method: &'a ImplItemFn,
    pub(crate) attr: &'a Attribute,
    pub(crate) role: Role,
    /// The handler's own correlation, else the process manager's.
    pub(crate) correlate: Option<Correlate>,
    /// `E` of the `&E` parameter.
    pub(crate) event: &'a Type,
    pub(crate) ctx: Option<&'a PatType>,
    pub(crate) returns: Returns<'a>,
}

/// A `#[compensate(C)]` method.
pub(crate) struct Compensator<'a> {
    pub(crate) method: &'a ImplItemFn,
    pub(crate) command: Path,
    pub(crate) ctx: Option<&'a PatType>,
    pub(crate) returns: Returns<'a>,
}

/// An `#[init]` method.
pub(crate) struct Init<'a> {
    pub(crate) method: &'a ImplItemFn,
    pub(crate) attr: &'a Attribute,
}

/// An `#[upgrade]` method: `fn(u32, serde_json::Value) -> Result<Self, E>`.
pub(crate) struct Upgrade<'a> {
    pub(crate) method: &'a ImplItemFn,
    pub(crate) attr: &'a Attribute,
}

/// An `#[on_error]` method: `fn(&mut self, &CommandFailure [, ctx]) -> ErrorAction<_>`.
pub(crate) struct OnError<'a> {
    pub(crate) method: &'a ImplItemFn,
    pub(crate) attr: &'a Attribute,
    pub(crate) ctx: Option<&'a PatType>,
}

/// The shape of a handler's return type, read from its syntax.
pub(crate) enum Returns<'a> {
    /// Nothing, or `()`.
    Unit,
    /// One command (a declared command type or the command enum).
    One(&'a Type),
    /// `Option<X>`.
    Option(&'a Type),
    /// `Vec<X>`.
    Vec(&'a Type),
    /// `Result<shape, E>` (or a one-argument `Result` alias).
    Result(Box<Returns<'a>>),
}

impl Returns<'_> {
    /// The command types this shape mentions (`X` of `Option<X>` ...), for check 7.
    pub(crate) fn command_types(&self) -> Vec<&Type> {
        match self {
            Self::Unit => Vec::new(),
            Self::One(ty) | Self::Option(ty) | Self::Vec(ty) => vec![*ty],
            Self::Result(inner) => inner.command_types(),
        }
    }
}

impl Handler<'_> {
    pub(crate) fn ident(&self) -> &Ident {
        &self.method.sig.ident
    }
}

impl<'a> Model<'a> {
    /// `None` when the impl block is not something a process manager can be built from
    /// (a trait impl, a self type without a name); that has been reported.
    pub(crate) fn from_impl(cx: &Ctxt, args: &'a PmArgs, item: &'a ItemImpl) -> Option<Self> {
        if let Some((_, path, _)) = &item.trait_ {
            cx.error_spanned_by(
                path,
                "`#[process_manager]` goes on an inherent impl block, e.g. `impl OrderFulfillment { ... }`, not on a trait impl",
            );
            return None;
        }
        let ident = self_ident(cx, &item.self_ty)?;
        let name = match &args.name {
            Some(name) => name.value(),
            None => snake_case(&ident.to_string()),
        };
        let mut model = Self {
            item,
            self_ty: &item.self_ty,
            ident,
            args,
            name,
            command_enum: format_ident!("{}Command", ident, span = ident.span()),
            handlers: Vec::new(),
            compensators: Vec::new(),
            inits: Vec::new(),
            on_errors: Vec::new(),
            upgrades: Vec::new(),
            extra_attrs: Vec::new(),
            misplaced: Vec::new(),
        };
        for impl_item in &item.items {
            match impl_item {
                ImplItem::Fn(method) => model.add_method(cx, method),
                other => model
                    .misplaced
                    .extend(other_attrs(other).iter().filter(|a| attr::is_helper(a))),
            }
        }
        Some(model)
    }

    fn add_method(&mut self, cx: &Ctxt, method: &'a ImplItemFn) {
        let mut helpers = method.attrs.iter().filter(|a| attr::is_helper(a));
        let Some(first) = helpers.next() else {
            return;
        };
        self.extra_attrs.extend(helpers.map(|a| (method, a)));
        match attr::lifecycle(cx, first) {
            Some(Lifecycle::Handler { role, correlate }) => {
                let correlate =
                    correlate.or_else(|| self.args.correlate.clone().map(Correlate::Field));
                if let Some(handler) = handler(cx, method, first, role, correlate) {
                    self.handlers.push(handler);
                }
            }
            Some(Lifecycle::Compensate(command)) => {
                if let Some((_, ctx, returns)) = parts(cx, method, first, "command") {
                    self.compensators.push(Compensator {
                        method,
                        command,
                        ctx,
                        returns,
                    });
                }
            }
            Some(Lifecycle::Init) => self.inits.push(Init {
                method,
                attr: first,
            }),
            Some(Lifecycle::Upgrade) => self.upgrades.push(Upgrade {
                method,
                attr: first,
            }),
            Some(Lifecycle::OnError) => {
                if let Some((_, ctx)) = params(cx, method, first, "failure") {
                    self.on_errors.push(OnError {
                        method,
                        attr: first,
                        ctx,
                    });
                }
            }
            None => {}
        }
    }
}

fn other_attrs(item: &ImplItem) -> &[Attribute] {
    match item {
        ImplItem::Const(c) => &c.attrs,
        ImplItem::Type(t) => &t.attrs,
        ImplItem::Macro(m) => &m.attrs,
        _ => &[],
    }
}

/// The name of the state type: `Foo` in `impl Foo` or `impl path::Foo`.
fn self_ident<'a>(cx: &Ctxt, ty: &'a Type) -> Option<&'a Ident> {
    if let Type::Path(path) = ty
        && path.qself.is_none()
        && let Some(last) = path.path.segments.last()
        && last.arguments.is_none()
    {
        return Some(&last.ident);
    }
    cx.error_spanned_by(
        ty,
        "`#[process_manager]` needs a state type named by a plain path, e.g. `impl OrderFulfillment`",
    );
    None
}

fn handler<'a>(
    cx: &Ctxt,
    method: &'a ImplItemFn,
    attr: &'a Attribute,
    role: Role,
    correlate: Option<Correlate>,
) -> Option<Handler<'a>> {
    let (event, ctx, returns) = parts(cx, method, attr, "event")?;
    Some(Handler {
        method,
        attr,
        role,
        correlate,
        event,
        ctx,
        returns,
    })
}

/// The message type, the optional context parameter and the return shape of a handler or
/// compensation: `fn(&mut self, &M [, ctx]) -> R`.
fn parts<'a>(
    cx: &Ctxt,
    method: &'a ImplItemFn,
    attr: &Attribute,
    what: &str,
) -> Option<(&'a Type, Option<&'a PatType>, Returns<'a>)> {
    let returns = returns(cx, &method.sig.output);
    let (message, ctx) = params(cx, method, attr, what)?;
    Some((message, ctx, returns?))
}

/// The message type and the optional context parameter: `(&mut self, &M [, ctx])`.
fn params<'a>(
    cx: &Ctxt,
    method: &'a ImplItemFn,
    attr: &Attribute,
    what: &str,
) -> Option<(&'a Type, Option<&'a PatType>)> {
    let sig = &method.sig;
    let params: Vec<&PatType> = sig
        .inputs
        .iter()
        .filter_map(|arg| match arg {
            FnArg::Typed(pat) => Some(pat),
            FnArg::Receiver(_) => None,
        })
        .collect();
    let (message, ctx) = match params.as_slice() {
        [message] => (*message, None),
        [message, ctx] => (*message, Some(*ctx)),
        _ => {
            let name = attr::helper_name(attr);
            let message = format!(
                "a `#[{name}]` method takes `&mut self`, the {what} and optionally the context; \
                 expected `fn {}(&mut self, {what}: &T)` or `fn {}(&mut self, {what}: &T, ctx: &mut Context<Self>)`",
                sig.ident, sig.ident
            );
            if sig.inputs.is_empty() {
                cx.error_spanned_by(&sig.ident, message);
            } else {
                cx.error_spanned_by(&sig.inputs, message);
            }
            return None;
        }
    };
    let message_ty = match &*message.ty {
        Type::Reference(r) if r.mutability.is_none() => &*r.elem,
        other => {
            cx.error_spanned_by(
                other,
                format!(
                    "the {what} parameter must be a shared reference, e.g. `{what}: &{}`",
                    type_string(other)
                ),
            );
            return None;
        }
    };
    Some((message_ty, ctx))
}

const WRAPPERS: &[&str] = &["Option", "Vec", "Result"];

/// Classifies a return type; unsupported shapes are reported.
fn returns<'a>(cx: &Ctxt, output: &'a ReturnType) -> Option<Returns<'a>> {
    let ReturnType::Type(_, ty) = output else {
        return Some(Returns::Unit);
    };
    let shape = shape(ty, true);
    if shape.is_none() {
        cx.error_spanned_by(
            ty,
            "unsupported return type; expected nothing, a command, `Option<C>`, `Vec<C>`, or a `Result` of one of these, \
             where `C` is a type in `commands(...)` or the generated command enum",
        );
    }
    shape
}

fn shape(ty: &Type, allow_result: bool) -> Option<Returns<'_>> {
    match ty {
        Type::Tuple(tuple) if tuple.elems.is_empty() => Some(Returns::Unit),
        Type::Paren(paren) => shape(&paren.elem, allow_result),
        Type::Path(path) if path.qself.is_none() => {
            let last = path.path.segments.last()?;
            let args = type_args(&last.arguments);
            match (last.ident.to_string().as_str(), args.as_slice()) {
                ("Option", [inner]) => Some(Returns::Option(command_like(inner)?)),
                ("Vec", [inner]) => Some(Returns::Vec(command_like(inner)?)),
                ("Result", [ok] | [ok, _]) if allow_result => {
                    Some(Returns::Result(Box::new(shape(ok, false)?)))
                }
                (_, []) if last.arguments.is_none() => Some(Returns::One(ty)),
                _ => None,
            }
        }
        _ => None,
    }
}

/// `X` of `Option<X>`/`Vec<X>` must not itself be a wrapper.
fn command_like(ty: &Type) -> Option<&Type> {
    if let Type::Path(path) = ty
        && let Some(last) = path.path.segments.last()
        && WRAPPERS.iter().any(|w| last.ident == w)
    {
        return None;
    }
    Some(ty)
}

fn type_args(arguments: &PathArguments) -> Vec<&Type> {
    match arguments {
        PathArguments::AngleBracketed(args) => args
            .args
            .iter()
            .filter_map(|arg| match arg {
                GenericArgument::Type(ty) => Some(ty),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// A type as the user would write it, for messages.
pub(crate) fn type_string(ty: &impl quote::ToTokens) -> String {
    let s = quote::quote!(#ty).to_string();
    s.replace(" :: ", "::")
        .replace(":: ", "::")
        .replace(" < ", "<")
        .replace(" >", ">")
        .replace("< ", "<")
        .replace(" ,", ",")
        .replace("& ", "&")
}

/// `OrderFulfillment` → `order_fulfillment`, `HTTPSaga` → `http_saga`.
pub(crate) fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev = i.checked_sub(1).map(|p| chars[p]);
            let next = chars.get(i + 1);
            let boundary = match prev {
                Some(p) if p.is_lowercase() || p.is_ascii_digit() => true,
                Some(p) if p.is_uppercase() => next.is_some_and(|n| n.is_lowercase()),
                _ => false,
            };
            if boundary && !out.ends_with('_') {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}
