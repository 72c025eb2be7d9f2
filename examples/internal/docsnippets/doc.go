// Package docsnippets compiles and runs the code snippets of the
// documentation (docs/dsl.md, docs/concepts.md, docs/migrating.md): each
// test holds a page's snippets verbatim, so that a change of the API that
// breaks a snippet breaks the build, and checks what the page says they do.
package docsnippets
