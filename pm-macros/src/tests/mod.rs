//! The macro's own tests: expansion snapshots and the message of every check.

mod derive_errors;
mod diagram;
mod errors;
mod snapshots;

use proc_macro2::{TokenStream, TokenTree};

/// Formats an expansion the way `PM_MACROS_DEBUG=1` prints it.
fn render(tokens: &TokenStream) -> String {
    match syn::parse2::<syn::File>(tokens.clone()) {
        Ok(file) => prettyplease::unparse(&file),
        Err(error) => panic!("expansion does not parse: {error}\n{tokens}"),
    }
}

/// Compares `tokens`, rendered, with `tests/snapshots/<name>.rs`; `PM_MACROS_BLESS=1`
/// rewrites the file instead.
fn assert_snapshot(name: &str, tokens: &TokenStream) {
    assert_text_snapshot(&format!("{name}.rs"), &render(tokens));
}

/// Compares `actual` with `tests/snapshots/<file>`; `PM_MACROS_BLESS=1` rewrites the file.
fn assert_text_snapshot(file: &str, actual: &str) {
    let name = file;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(file);
    if std::env::var_os("PM_MACROS_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, actual).expect("write snapshot");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "no snapshot at {}; run with PM_MACROS_BLESS=1",
            path.display()
        )
    });
    assert!(
        expected == actual,
        "`{name}` differs from {}; rerun with PM_MACROS_BLESS=1 if intended\n--- actual ---\n{actual}",
        path.display()
    );
}

/// The messages of every `compile_error!` in an expansion, in order.
fn compile_errors(tokens: &TokenStream) -> Vec<String> {
    let mut messages = Vec::new();
    let trees: Vec<TokenTree> = tokens.clone().into_iter().collect();
    for (i, tree) in trees.iter().enumerate() {
        match tree {
            TokenTree::Ident(ident) if ident == "compile_error" => {
                if let Some(TokenTree::Group(group)) = trees.get(i + 2) {
                    let lit: syn::LitStr = syn::parse2(group.stream()).expect("string literal");
                    messages.push(lit.value());
                }
            }
            TokenTree::Group(group) => messages.extend(compile_errors(&group.stream())),
            _ => {}
        }
    }
    messages
}

/// Expands `#[process_manager(args)] item` and returns its error messages (none if it
/// succeeded).
fn pm_errors(args: TokenStream, item: TokenStream) -> Vec<String> {
    let item: syn::ItemImpl = syn::parse2(item).expect("impl block");
    match crate::pipeline::expand_item(args, &item) {
        Ok(tokens) => {
            assert!(compile_errors(&tokens).is_empty());
            Vec::new()
        }
        Err(tokens) => compile_errors(&tokens),
    }
}
