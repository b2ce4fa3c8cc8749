//! A light lexical pass over a script that has already compiled: it reports
//! top-level statements other than `import` and finds literal import paths,
//! each with its line and column. Rhai keeps its AST private unless the
//! `internals` feature is on, which operator-facing builds should not enable.

/// Something found at a place in the file (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub line: usize,
    pub col: usize,
    pub text: String,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Scan {
    /// Top-level statements other than `import` and `fn` definitions.
    pub stray: Vec<Found>,
    /// `import "literal"` paths, at any depth.
    pub imports: Vec<Found>,
    /// The distinct literal paths imported at the top level, which every
    /// call runs.
    pub top_level_imports: Vec<String>,
    /// Top-level `fn` definitions: each name, where its `fn` stands.
    pub functions: Vec<Found>,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Open(char),
    Close,
    Semi,
    Other,
}

struct Lexer<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    line: usize,
    col: usize,
}

impl Lexer<'_> {
    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    fn peek(&mut self) -> Option<char> {
        self.chars.peek().copied()
    }

    /// A string, after its opening quote: its body, or, for a backtick
    /// string with `${...}` in it, an expression ([`Tok::Other`]).
    fn string(&mut self, quote: char) -> Tok {
        let mut s = String::new();
        let mut interpolated = false;
        while let Some(c) = self.bump() {
            match c {
                '\\' => {
                    if let Some(n) = self.bump() {
                        s.push(n);
                    }
                }
                c if c == quote => break,
                '$' if quote == '`' && self.peek() == Some('{') => {
                    self.bump();
                    self.skip_interpolation();
                    interpolated = true;
                }
                c => s.push(c),
            }
        }
        if interpolated {
            Tok::Other
        } else {
            Tok::Str(s)
        }
    }

    /// Skips `${ ... }` code inside a backtick string, to its closing brace.
    fn skip_interpolation(&mut self) {
        let mut depth = 1;
        while let Some((tok, _, _)) = self.next_token() {
            match tok {
                Tok::Open('{') => depth += 1,
                Tok::Close if depth == 1 => return,
                Tok::Close => depth -= 1,
                _ => {}
            }
        }
    }

    fn raw_string(&mut self) -> String {
        let mut hashes = 1;
        while self.peek() == Some('#') {
            self.bump();
            hashes += 1;
        }
        self.bump(); // the opening quote
        let mut s = String::new();
        while let Some(c) = self.bump() {
            if c == '"' {
                let mut seen = 0;
                while seen < hashes && self.peek() == Some('#') {
                    self.bump();
                    seen += 1;
                }
                if seen == hashes {
                    return s;
                }
                s.push('"');
                s.extend(std::iter::repeat_n('#', seen));
            } else {
                s.push(c);
            }
        }
        s
    }

    fn next_token(&mut self) -> Option<(Tok, usize, usize)> {
        loop {
            let (line, col) = (self.line, self.col);
            let c = self.bump()?;
            let tok = match c {
                c if c.is_whitespace() => continue,
                '/' if self.peek() == Some('/') => {
                    while self.peek().is_some_and(|c| c != '\n') {
                        self.bump();
                    }
                    continue;
                }
                '/' if self.peek() == Some('*') => {
                    self.bump();
                    let mut depth = 1;
                    while depth > 0 {
                        match self.bump() {
                            Some('*') if self.peek() == Some('/') => {
                                self.bump();
                                depth -= 1;
                            }
                            Some('/') if self.peek() == Some('*') => {
                                self.bump();
                                depth += 1;
                            }
                            Some(_) => {}
                            None => break,
                        }
                    }
                    continue;
                }
                '"' | '`' => self.string(c),
                '\'' => {
                    self.string('\'');
                    Tok::Other
                }
                '#' if matches!(self.peek(), Some('"') | Some('#')) => Tok::Str(self.raw_string()),
                '(' | '[' | '{' => Tok::Open(c),
                ')' | ']' | '}' => Tok::Close,
                ';' => Tok::Semi,
                c if c.is_alphanumeric() || c == '_' => {
                    let mut w = c.to_string();
                    while self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_') {
                        w.push(self.bump().unwrap_or_default());
                    }
                    Tok::Word(w)
                }
                _ => Tok::Other,
            };
            return Some((tok, line, col));
        }
    }
}

/// Scans the text of a script.
pub fn scan(source: &str) -> Scan {
    let mut lx = Lexer {
        chars: source.chars().peekable(),
        line: 1,
        col: 1,
    };
    let mut tokens = Vec::new();
    while let Some(t) = lx.next_token() {
        tokens.push(t);
    }

    let mut out = Scan::default();
    // Literal import paths, wherever they stand: a string that is the
    // whole path (`import "x" as m;`, `import "x";`), not the start of an
    // expression (`import "tbl_" + name as m`, checked when it runs).
    for (i, pair) in tokens.windows(2).enumerate() {
        if let [(Tok::Word(w), ..), (Tok::Str(path), line, col)] = pair {
            let whole = match tokens.get(i + 2).map(|(t, ..)| t) {
                None | Some(Tok::Semi | Tok::Close) => true,
                Some(Tok::Word(next)) => next == "as",
                Some(_) => false,
            };
            if w == "import" && whole {
                out.imports.push(Found {
                    line: *line,
                    col: *col,
                    text: path.clone(),
                });
            }
        }
    }

    // The top level: `import ... ;`, `[private] fn name(...) { ... }`, `;`.
    let mut depth = 0usize;
    let mut i = 0;
    while i < tokens.len() {
        let (tok, line, col) = &tokens[i];
        match tok {
            Tok::Semi => i += 1,
            Tok::Word(w) if w == "import" => {
                if let Some((Tok::Str(_), line, col)) = tokens.get(i + 1) {
                    let literal = out
                        .imports
                        .iter()
                        .find(|f| (f.line, f.col) == (*line, *col));
                    if let Some(path) = literal.map(|f| &f.text) {
                        if !out.top_level_imports.contains(path) {
                            out.top_level_imports.push(path.clone());
                        }
                    }
                }
                while i < tokens.len() && !(tokens[i].0 == Tok::Semi && depth == 0) {
                    match tokens[i].0 {
                        Tok::Open(_) => depth += 1,
                        Tok::Close => depth = depth.saturating_sub(1),
                        _ => {}
                    }
                    i += 1;
                }
                i += 1;
            }
            Tok::Word(w) if w == "fn" || w == "private" => {
                let at = if w == "private" { i + 1 } else { i };
                if let Some([(Tok::Word(f), line, col), (Tok::Word(name), ..)]) =
                    tokens.get(at..at + 2)
                {
                    if f == "fn" {
                        out.functions.push(Found {
                            line: *line,
                            col: *col,
                            text: name.clone(),
                        });
                    }
                }
                // To the body's opening brace, then to its matching close.
                while i < tokens.len() && tokens[i].0 != Tok::Open('{') {
                    i += 1;
                }
                while i < tokens.len() {
                    match tokens[i].0 {
                        Tok::Open(_) => depth += 1,
                        Tok::Close => depth = depth.saturating_sub(1),
                        _ => {}
                    }
                    i += 1;
                    if depth == 0 {
                        break;
                    }
                }
            }
            _ => {
                out.stray.push(Found {
                    line: *line,
                    col: *col,
                    text:
                        "only `fn` definitions and `import` statements may stand at the top level"
                            .into(),
                });
                // Skip that statement: to the next `;` or closed block at depth 0.
                while i < tokens.len() {
                    match tokens[i].0 {
                        Tok::Open(_) => depth += 1,
                        Tok::Close => {
                            depth = depth.saturating_sub(1);
                            if depth == 0 {
                                i += 1;
                                break;
                            }
                        }
                        Tok::Semi if depth == 0 => {
                            i += 1;
                            break;
                        }
                        _ => {}
                    }
                    i += 1;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn functions_and_imports_are_fine() {
        let src = r##"
            // a comment with fn and let in it
            import "util" as u;
            /* block /* nested */ let x = 1; */
            /// doc
            fn login(a, b) {
                let s = `template ${ if a { "}" } else { "{" } } end`;
                let m = #{ a: 1, "b": [1, 2] };
                import "inner/thing" as t;
                let c = '}';
                let r = #"raw " } "#;
                u::f(s, m, c, r)
            }
            private fn helper() { 1 }
        "##;
        let s = scan(src);
        assert!(s.stray.is_empty(), "{:?}", s.stray);
        let paths: Vec<_> = s.imports.iter().map(|f| f.text.as_str()).collect();
        assert_eq!(paths, ["util", "inner/thing"]);
        assert_eq!((s.imports[0].line, s.imports[0].col), (3, 20));
        // only `util` stands at the top level, which every call runs
        assert_eq!(s.top_level_imports, ["util"]);
    }

    #[test]
    fn a_computed_import_is_no_literal_path() {
        // checked when it runs, not at load: the literal is only its start
        let src = r#"
            fn login(u, p) {
                import "tbl_" + configuration::PREFIX as m;
                import `acc${"t"}` as n;
                import "acc" + "t";
                import "whole";
                import `plain` as q;
                m::f()
            }
        "#;
        let paths: Vec<_> = scan(src).imports.into_iter().map(|f| f.text).collect();
        assert_eq!(paths, ["whole", "plain"]);
    }

    #[test]
    fn stray_statements_are_found_with_their_place() {
        let src = "fn a() { 1 }\nlet x = 5;\nprint(\"hi\");\nfn b() {}\nif true { 1 }\n";
        let s = scan(src);
        let places: Vec<_> = s.stray.iter().map(|f| (f.line, f.col)).collect();
        assert_eq!(places, [(2, 1), (3, 1), (5, 1)]);
    }
}
