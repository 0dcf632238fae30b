//! Caption tokenization for the captioning metrics: [`CaptionTokenizer::Ptb`], a Rust
//! approximation of `pycocoevalcap/tokenizer/ptbtokenizer.py` (Stanford CoreNLP 3.4.1's
//! `PTBTokenizer -preserveLines -lowerCase`, then its `PUNCTUATIONS` list dropped; `-lrb-` and
//! friends are kept, as pycocoevalcap keeps them), and [`CaptionTokenizer::Plain`]. Never panics;
//! may return no tokens. Its rules follow PTBLexer 3.4.1 as probed through the jar (SGML tags,
//! apostrophes inside words, non-decimal numbers, `?`/`!` inside words, numbers, e-mail, hashtags,
//! abbreviations); every parity-fixture string is tokenized identically, and the forms known to
//! differ are listed in `tests/fixtures/caption_metrics/PROVENANCE.md`.

/// Which tokenizer `score_captions` applies to candidates and references.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CaptionTokenizer {
    /// Approximation of pycocoevalcap's PTB tokenization (Stanford `PTBTokenizer
    /// -preserveLines -lowerCase`, then removal of pycocoevalcap's `PUNCTUATIONS`).
    Ptb,
    /// Lower-case, replace every non-alphanumeric (Unicode-aware) char by a space, split on
    /// whitespace.
    Plain,
}

/// pycocoevalcap's `PUNCTUATIONS` list (`tokenizer/ptbtokenizer.py`), removed after PTB
/// tokenization. Compared against the lower-cased tokens, exactly as pycocoevalcap does.
pub const PTB_PUNCTUATIONS: &[&str] = &[
    "''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-", "--",
    "...", ";",
];

// ---------------------------------------------------------------------------------------------
// Tokenization
// ---------------------------------------------------------------------------------------------

/// Tokenizes one caption with the chosen tokenizer. Never panics; may return no tokens.
pub fn tokenize(text: &str, tok: CaptionTokenizer) -> Vec<String> {
    match tok {
        CaptionTokenizer::Plain => plain_tokenize(text),
        CaptionTokenizer::Ptb => ptb_tokenize(text),
    }
}

fn plain_tokenize(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    let replaced: String = lower
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    replaced.split_whitespace().map(str::to_string).collect()
}

fn ptb_tokenize(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    // SGML-like tags (`<angle>`, `<a href="x">`) are single tokens that may contain spaces, so they
    // are found before the text is split on whitespace. Every `<` starts a token in PTBLexer,
    // unless an earlier tag or `<<` took it.
    if !text.contains('<') {
        ptb_segment(text, &mut out);
        return out;
    }
    let bytes = text.as_bytes();
    let (mut start, mut k) = (0, 0);
    while k < bytes.len() {
        if bytes[k] == b'<' {
            if let Some(len) = sgml_tag_len(&bytes[k..]) {
                ptb_segment(&text[start..k], &mut out);
                // The tag's spaces become U+00A0 in Stanford's output, on which the scorers
                // split; pycocoevalcap's `PUNCTUATIONS` never match the whole tag.
                out.extend(text[k..k + len].split_whitespace().map(str::to_lowercase));
                k += len;
                start = k;
                continue;
            }
            if bytes.get(k + 1) == Some(&b'<') {
                k += 1;
            }
        }
        k += 1;
    }
    ptb_segment(&text[start..], &mut out);
    out
}

/// Length in bytes of the SGML tag PTBLexer (CoreNLP 3.4.1) recognises at the start of `s` (which
/// starts with `<`): `<!x…>` / `<?x…>`, `</name>`, or `<name attr attr="v" attr='v' … />`, names
/// `[A-Za-z][A-Za-z0-9_:.-]*`, never across a line end. Checked against the jar: `<a b=c>`,
/// `<a 'x'>`, `</a b>`, `<1>`, `< a>`, `<é>` and `<!>` are not tags.
fn sgml_tag_len(s: &[u8]) -> Option<usize> {
    let name_start = |b: u8| b.is_ascii_alphabetic();
    let name_char = |b: u8| b.is_ascii_alphanumeric() || b"_:.-".contains(&b);
    let at = |k: usize| s.get(k).copied();
    let spaces = |mut k: usize| {
        while at(k) == Some(b' ') {
            k += 1;
        }
        k
    };
    let name = |mut k: usize| {
        while at(k).is_some_and(name_char) {
            k += 1;
        }
        k
    };
    // `[ ]*>` closes every form.
    let close = |k: usize| {
        let k = spaces(k);
        (at(k) == Some(b'>')).then_some(k + 1)
    };
    match at(1)? {
        b'!' | b'?' => {
            if !at(2).is_some_and(|b| name_start(b) || b == b'-') {
                return None;
            }
            let end = 3 + s[3..]
                .iter()
                .position(|&b| b == b'>' || b == b'\r' || b == b'\n')?;
            (s[end] == b'>').then_some(end + 1)
        }
        b'/' => {
            if !at(2).is_some_and(name_start) {
                return None;
            }
            close(name(3))
        }
        b if name_start(b) => {
            let mut k = name(2);
            loop {
                let after = spaces(k);
                if after > k && at(after).is_some_and(name_start) {
                    k = name(after + 1);
                    // An optional `[ ]*=[ ]*` quoted value.
                    let eq = spaces(k);
                    if at(eq) == Some(b'=') {
                        let q = spaces(eq + 1);
                        let quote = at(q).filter(|b| *b == b'"' || *b == b'\'')?;
                        let len = s[q + 1..]
                            .iter()
                            .position(|&b| b == quote || b == b'\r' || b == b'\n')?;
                        if s[q + 1 + len] != quote {
                            return None;
                        }
                        k = q + len + 2;
                    }
                    continue;
                }
                let k = spaces(k);
                let k = if at(k) == Some(b'/') { k + 1 } else { k };
                return close(k);
            }
        }
        _ => None,
    }
}

/// Tokenizes text that holds no SGML tag, appending the lower-cased tokens that survive
/// pycocoevalcap's `PUNCTUATIONS` to `out`.
fn ptb_segment(text: &str, out: &mut Vec<String>) {
    let mut raw: Vec<String> = Vec::new();
    let chunks: Vec<&str> = text
        .split(|c: char| c.is_whitespace())
        .filter(|c| !c.is_empty())
        .collect();
    for (k, chunk) in chunks.iter().enumerate() {
        // Most caption words are ASCII letters alone: one word each, after PTB's whole-word splits
        // (the lexer's result, without building its character vector; tested equal below).
        if chunk.bytes().all(|b| b.is_ascii_alphabetic()) {
            match whole_word_split(&chunk.to_ascii_lowercase()) {
                Some(at) => raw.extend([chunk[..at].to_string(), chunk[at..].to_string()]),
                None => raw.push(chunk.to_string()),
            }
            continue;
        }
        let chars: Vec<char> = chunk.chars().map(normalize_char).collect();
        let before_number = chunks
            .get(k + 1)
            .and_then(|c| c.chars().next())
            .is_some_and(|c| c.is_ascii_digit());
        let start = raw.len();
        lex_chunk(&chars, &mut raw);
        // "No. 5": PTB keeps the period of "no"/"nos" before a number.
        if before_number && raw.len() >= start + 2 {
            let m = raw.len();
            if raw[m - 1] == "." && ["no", "nos"].contains(&raw[m - 2].to_lowercase().as_str()) {
                raw.pop();
                raw[m - 2].push('.');
            }
        }
    }
    out.extend(
        raw.into_iter()
            .map(|mut t| {
                if t.is_ascii() {
                    t.make_ascii_lowercase();
                    t
                } else {
                    t.to_lowercase()
                }
            })
            .filter(|t| !t.is_empty() && !PTB_PUNCTUATIONS.contains(&t.as_str())),
    );
}

fn normalize_char(c: char) -> char {
    match c {
        '\u{2018}' | '\u{2019}' | '\u{201B}' | '\u{2032}' => '\'',
        _ => c,
    }
}

/// Unicode numbers that are not decimal digits (categories No and Nl, Basic Multilingual Plane):
/// PTBLexer's words are made of letters (`[:letter:]`) and decimal digits (`[:digit:]`) only, so
/// `x²` is `x` `²`, and Rust's `char::is_alphanumeric` (which counts these) is too wide.
fn is_other_number(c: char) -> bool {
    matches!(c as u32,
        0xB2 | 0xB3 | 0xB9 | 0xBC..=0xBE
        | 0x9F4..=0x9F9 | 0xB72..=0xB77 | 0xBF0..=0xBF2 | 0xC78..=0xC7E | 0xD58..=0xD5E
        | 0xD70..=0xD78 | 0xF2A..=0xF33 | 0x1369..=0x137C | 0x16EE..=0x16F0 | 0x17F0..=0x17F9
        | 0x19DA | 0x2070 | 0x2074..=0x2079 | 0x2080..=0x2089 | 0x2150..=0x218B
        | 0x2460..=0x24FF | 0x2776..=0x2793
        | 0x2CFD | 0x3007 | 0x3021..=0x3029 | 0x3038..=0x303A | 0x3192..=0x3195
        | 0x3220..=0x3229 | 0x3248..=0x325F | 0x3280..=0x3289 | 0x32B1..=0x32BF
        | 0xA6E6..=0xA6EF | 0xA830..=0xA835)
}

/// Of [`is_other_number`], those PTBLexer keeps as a token of their own (symbols in
/// U+2000–U+2BFF, the fractions U+2155–U+215E); superscripts and subscripts are handled apart,
/// and the rest (roman numerals, CJK and Indic number signs…) are untokenizable, so deleted.
fn is_symbol_number(c: char) -> bool {
    matches!(c as u32, 0x2155..=0x215E | 0x2460..=0x24FF | 0x2776..=0x2793)
}

/// Superscript digits (PTBLexer's `SUBSUPNUM` is a run of these, or of [`sub_digit`]s, after an
/// optional sign).
fn sup_digit(c: char) -> bool {
    matches!(
        c,
        '\u{2070}' | '\u{00B9}' | '\u{00B2}' | '\u{00B3}' | '\u{2074}'..='\u{2079}'
    )
}
/// Subscript digits.
fn sub_digit(c: char) -> bool {
    matches!(c, '\u{2080}'..='\u{2089}')
}

/// A letter or decimal digit (PTBLexer's word characters).
fn is_alnum(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric()
    } else {
        c.is_alphanumeric() && !is_other_number(c)
    }
}

/// A letter (PTBLexer's `[:letter:]`, approximately).
fn is_letter(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphabetic()
    } else {
        c.is_alphabetic() && !is_other_number(c)
    }
}

/// A decimal digit.
fn is_digit(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_digit()
    } else {
        c.is_numeric() && !is_other_number(c)
    }
}

/// Abbreviations that keep their final period in any case (PTBLexer 3.4.1's lists, lower-cased;
/// each checked against the jar at the end of a line and before lower- and upper-case words).
const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "drs", "prof", "profs", "st", "ste", "jr", "sr", "etc", "vs", "inc",
    "ft", "mt", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov",
    "dec", "capt", "co", "cos", "corp", "ltd", "gen", "gov", "govs", "sen", "sens", "rep", "reps",
    "lt", "col", "sgt", "ave", "blvd", "rd", "mon", "tue", "tues", "wed", "thu", "thurs", "fri",
    "rev", "maj", "cpl", "pvt", "adm", "hon", "pres", "dept", "univ", "esq", "bros", "messrs",
    "mme", "mlle", "plc", "assn", "intl", "ala", "ariz", "calif", "colo", "conn", "ct", "dak",
    "fla", "ga", "ind", "kan", "kans", "ky", "md", "mich", "minn", "mo", "mont", "neb", "nev",
    "okla", "penn", "tenn", "va", "vt", "wis", "wisc", "wyo", "rt", "bancorp", "bhd", "sys", "tel",
    "est", "ext", "sq", "ph", "al", "seq", "bldg", "atty", "attys", "lieut", "brig", "cmdr",
    "comdr", "pfc", "spc", "supt", "supts", "det", "adj", "adv", "asst", "assoc", "ens", "insp",
    "msgr", "sfc", "alex", "wm", "jos", "cie", "cf", "treas", "invt", "elec", "natl", "ph.d",
    "ed.d",
];

/// `Pp?t[ye]s?`, whose `[ye]` is lower-case only.
const PTY: &[&str] = &[
    "pty", "ptys", "pte", "ptes", "ppty", "pptys", "ppte", "pptes",
];

/// Abbreviations that keep their period only when capitalised (`Ill.`, but `ill.` is `ill` `.`).
const CAPITALIZED_ABBREVIATIONS: &[&str] = &[
    "az", "ark", "del", "ill", "la", "mass", "miss", "ore", "pa", "tex", "wash",
];

/// Contractions after an apostrophe that PTB splits off as their own token ("dog's" -> "'s").
const APOS_SUFFIXES: &[&str] = &["s", "re", "ll", "ve", "m", "d"];

fn lower(s: &[char]) -> String {
    s.iter().collect::<String>().to_lowercase()
}

/// Is `chars[i]` (an apostrophe) the start of a split-off contraction such as `'s` / `'ll`,
/// ending a word (not followed by an ASCII letter: `you'd2` is `you` `'d` `2`)? Returns its
/// length in chars.
fn apos_contraction_at(chars: &[char], i: usize) -> Option<usize> {
    if chars.get(i) != Some(&'\'') {
        return None;
    }
    let run = chars[i + 1..]
        .iter()
        .take_while(|c| c.is_ascii_alphabetic())
        .count();
    if run == 0 {
        return None;
    }
    let suffix = lower(&chars[i + 1..i + 1 + run]);
    if APOS_SUFFIXES.contains(&suffix.as_str()) {
        Some(run + 1)
    } else {
        None
    }
}

fn lex_chunk(chars: &[char], out: &mut Vec<String>) {
    let n = chars.len();
    // URLs are kept whole: `http(s)://` up to `"<>|()`, not ending in `.!?{},-` (PTBLexer's
    // FULLURL); `www.` up to the end, minus trailing punctuation.
    let low = if matches!(chars.first(), Some('h' | 'H' | 'w' | 'W')) {
        lower(&chars[..n.min(8)])
    } else {
        String::new()
    };
    if low.starts_with("http://") || low.starts_with("https://") || low.starts_with("www.") {
        let (mut end, trailing) = if low.starts_with("www.") {
            (n, ".,;:!?)]}\"'")
        } else {
            let stop = chars.iter().position(|c| "\"<>|()".contains(*c));
            (stop.unwrap_or(n), ".!?{},-")
        };
        while end > 0 && trailing.contains(chars[end - 1]) {
            end -= 1;
        }
        out.push(chars[..end].iter().collect());
        lex_chunk(&chars[end..], out);
        return;
    }
    let has_at = chars.contains(&'@');
    let mut i = 0;
    while i < n {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            '(' => {
                out.push("-LRB-".into());
                i += 1;
            }
            ')' => {
                out.push("-RRB-".into());
                i += 1;
            }
            '[' => {
                out.push("-LSB-".into());
                i += 1;
            }
            ']' => {
                out.push("-RSB-".into());
                i += 1;
            }
            '{' => {
                out.push("-LCB-".into());
                i += 1;
            }
            '}' => {
                out.push("-RCB-".into());
                i += 1;
            }
            '"' | '\u{201C}' | '\u{201D}' | '\u{00AB}' | '\u{00BB}' | '\u{2039}' | '\u{203A}' => {
                out.push("''".into());
                i += 1;
            }
            '`' => {
                let run = chars[i..].iter().take_while(|c| **c == '`').count();
                out.push(if run >= 2 { "``".into() } else { "`".into() });
                i += run.min(2);
            }
            '\'' => i = lex_apostrophe(chars, i, out),
            // A number may start with its separator: ".5", ",5", ":30" (PTBLexer's NUM).
            '.' | ',' | ':' if next.is_some_and(|d| d.is_ascii_digit()) => {
                i = lex_word(chars, i, out)
            }
            '-' | '+' if next.is_some_and(|d| d.is_ascii_digit()) => i = lex_word(chars, i, out),
            // Twitter names `@[A-Za-z_][A-Za-z_0-9]*`, hashtags `#` and letters.
            '@' if next.is_some_and(|d| d.is_ascii_alphabetic() || d == '_') => {
                let run = chars[i + 1..]
                    .iter()
                    .take_while(|d| d.is_ascii_alphanumeric() || **d == '_')
                    .count();
                out.push(chars[i..i + 1 + run].iter().collect());
                i += 1 + run;
            }
            '#' if next.is_some_and(is_letter) => {
                let end = i + 1 + letter_run(chars, i + 1);
                out.push(chars[i..end].iter().collect());
                i = end;
            }
            '.' => {
                let run = chars[i..].iter().take_while(|c| **c == '.').count();
                if run >= 3 {
                    out.push("...".into());
                } else {
                    for _ in 0..run {
                        out.push(".".into());
                    }
                }
                i += run;
            }
            '\u{2026}' => {
                out.push("...".into());
                i += 1;
            }
            '-' => {
                let run = chars[i..].iter().take_while(|c| **c == '-').count();
                out.push(if run >= 2 { "--".into() } else { "-".into() });
                i += run;
            }
            '\u{2013}' | '\u{2014}' | '\u{2015}' => {
                out.push("--".into());
                i += 1;
            }
            '!' | '?' => {
                let run = chars[i..]
                    .iter()
                    .take_while(|c| **c == '!' || **c == '?')
                    .count();
                out.push(chars[i..i + run].iter().collect());
                i += run;
            }
            '\u{00A3}' => {
                out.push("#".into());
                i += 1;
            }
            '\u{20AC}' => {
                out.push("$".into());
                i += 1;
            }
            '\u{00A2}' => {
                out.push("cents".into());
                i += 1;
            }
            '\u{00BD}' => {
                out.push("1/2".into());
                i += 1;
            }
            '\u{00BC}' => {
                out.push("1/4".into());
                i += 1;
            }
            '\u{00BE}' => {
                out.push("3/4".into());
                i += 1;
            }
            '\u{2153}' => {
                out.push("1/3".into());
                i += 1;
            }
            '\u{2154}' => {
                out.push("2/3".into());
                i += 1;
            }
            // PTBLexer's "fake duck feet".
            '<' | '>' if next == Some(c) => {
                out.push(chars[i..i + 2].iter().collect());
                i += 2;
            }
            // Superscript / subscript numbers (`x²` is `x` `²`), an optional sign first.
            _ if sup_digit(c)
                || sub_digit(c)
                || (matches!(c, '\u{207A}' | '\u{207B}' | '\u{208A}' | '\u{208B}')
                    && next.is_some_and(|d| sup_digit(d) || sub_digit(d))) =>
            {
                let first = if sup_digit(c) || sub_digit(c) {
                    i
                } else {
                    i + 1
                };
                let sub = sub_digit(chars[first]);
                let end = first
                    + chars[first..]
                        .iter()
                        .take_while(|d| if sub { sub_digit(**d) } else { sup_digit(**d) })
                        .count();
                out.push(chars[i..end].iter().collect());
                i = end;
            }
            _ if is_alnum(c) => {
                if let Some(end) = has_at.then(|| email_end(chars, i)).flatten() {
                    out.push(chars[i..end].iter().collect());
                    i = end;
                } else {
                    i = lex_word(chars, i, out)
                }
            }
            '_' => {
                let run = chars[i..].iter().take_while(|c| **c == '_').count();
                out.push(chars[i..i + run].iter().collect());
                i += run;
            }
            // PTBTokenizer deletes untokenizable characters (e.g. emoji, controls, roman numerals).
            _ if (c as u32) > 0xFFFF
                || c.is_control()
                || (is_other_number(c) && !is_symbol_number(c)) =>
            {
                i += 1
            }
            _ => {
                out.push(c.to_string());
                i += 1;
            }
        }
    }
}

/// Apostrophe not inside a word. Returns the next index.
fn lex_apostrophe(chars: &[char], i: usize, out: &mut Vec<String>) -> usize {
    let n = chars.len();
    if chars.get(i + 1) == Some(&'\'') {
        out.push("''".into());
        return i + 2;
    }
    if let Some(len) = apos_contraction_at(chars, i) {
        out.push(chars[i..i + len].iter().collect());
        return i + len;
    }
    let at = |k: usize| chars.get(i + k).copied();
    // 'n' (rock 'n' roll), and 'n before a non-letter.
    if at(1).is_some_and(|c| c.eq_ignore_ascii_case(&'n')) {
        // PTBLexer: `'n` only before a space or the end (`'n)` is `'` `n` `)`).
        let len = if at(2) == Some('\'') { 3 } else { 2 };
        if len == 3 || at(2).is_none() {
            out.push(chars[i..i + len].iter().collect());
            return i + len;
        }
    }
    // Prefixes PTBLexer keeps whole, even before more letters ('causes is 'cause s); 'tis and
    // 'twas are 't is / 't was.
    let low = lower(&chars[i + 1..n.min(i + 6)]);
    if low.starts_with("tis") || low.starts_with("twas") {
        out.push(chars[i..i + 2].iter().collect());
        return i + 2;
    }
    if let Some(p) = ["cause", "till", "til", "em"]
        .iter()
        .find(|p| low.starts_with(*p))
    {
        out.push(chars[i..i + 1 + p.len()].iter().collect());
        return i + 1 + p.len();
    }
    // Decades: '20s … '90s ('10s and '2000s are a quote and a number).
    if at(1).is_some_and(|c| ('2'..='9').contains(&c))
        && at(2) == Some('0')
        && at(3).is_some_and(|c| c.eq_ignore_ascii_case(&'s'))
    {
        out.push(chars[i..i + 4].iter().collect());
        return i + 4;
    }
    out.push("'".into());
    i + 1
}

/// Words with an apostrophe inside that PTBLexer keeps whole (its `APOWORD` list, lower-cased);
/// `c'mons` is `c'mon` `s`.
const APOS_WORDS: &[&str] = &[
    "nor'easter",
    "c'mon",
    "e'er",
    "s'mores",
    "ev'ry",
    "li'l",
    "nat'l",
    "o'o",
];

/// Words that keep a final apostrophe (`ol'`, `somethin'`), even before a letter (`ol'x` is
/// `ol'` `x`), but not before a contraction (`ol's` is `ol` `'s`).
const APOS_FINAL_WORDS: &[&str] = &["ol", "dunkin", "somethin"];

/// Length of the run of letters starting at `i`.
fn letter_run(chars: &[char], i: usize) -> usize {
    chars[i.min(chars.len())..]
        .iter()
        .take_while(|c| is_letter(**c))
        .count()
}

/// What an apostrophe at `j` inside the word `chars[i..j]` does, following PTBLexer 3.4.1 (checked
/// against the jar). A bare apostrophe between letters splits (`fo'c'sle` is `fo` `'` `c` `'`
/// `sle`) unless one of its `THING` / `APOWORD` rules keeps it.
fn apostrophe_in_word(chars: &[char], i: usize, j: usize) -> ApostropheInWord {
    use ApostropheInWord::*;
    let prev = chars[j - 1];
    let nxt = chars.get(j + 1).copied();
    if !prev.is_alphabetic() || apos_contraction_at(chars, j).is_some() {
        return Split;
    }
    // THING: `[dDoOlL]'` then at least two letters or digits, at the start of a hyphen-separated
    // part (d'arcy, o'clock, x-o'clock, l'homme).
    if "dDoOlL".contains(prev)
        && (j - 1 == i || matches!(chars[j - 2], '-' | '_'))
        && nxt.is_some_and(is_alnum)
        && chars.get(j + 2).is_some_and(|c| is_alnum(*c))
    {
        return Continue;
    }
    for w in APOS_WORDS {
        if w.find('\'') == Some(j - i)
            && chars.len() >= i + w.len()
            && w.chars()
                .zip(&chars[i..])
                .all(|(a, b)| b.to_ascii_lowercase() == a)
        {
            return End(i + w.len());
        }
    }
    // `[A-HJ-XZn]'` and two letters or more (B'Gosh, J'aime, n'ts), case-sensitive.
    let after = letter_run(chars, j + 1);
    if j - 1 == i && matches!(prev, 'A'..='H' | 'J'..='X' | 'Z' | 'n') && after >= 2 {
        return End(j + 1 + after);
    }
    // Two letters or more ending in a vowel, then a vowel or a capital (ma'am, shi'ite, ko'Ab).
    if j - i >= 2
        && chars[i..j].iter().all(|c| is_letter(*c))
        && "aeiouyAEIOUY".contains(prev)
        && nxt.is_some_and(|c| "aeiou".contains(c) || c.is_ascii_uppercase())
    {
        return End(j + 1 + after);
    }
    // y'all -> y' all (only before a letter; "y'" alone splits).
    if j - 1 == i && prev.eq_ignore_ascii_case(&'y') && nxt.is_some_and(is_letter) {
        return End(j + 1);
    }
    Split
}

enum ApostropheInWord {
    /// The word goes on past the apostrophe (`THING`: `d'arcy`, `o'clock-x`).
    Continue,
    /// The token is `chars[i..end]`, apostrophe included (`APOWORD`: `ma'am`, `c'mon`).
    End(usize),
    /// The word ends before the apostrophe.
    Split,
}

/// Lexes a word-like token starting at `i` (alphanumeric, or a sign / separator followed by a
/// digit). Returns the next index.
///
/// The token follows PTBLexer's main word rules: `WORD` (a letter, then letters and digits, with
/// `.`, `?` or `!` before a letter: `u.s.a`, `hello?is`), `NUM` (digits with `.`, `,`, `:`
/// between digits; letters after a separator start a new token: `2:30pm`, `2.5x`), `THING`
/// (letters and digits with hyphens / underscores between parts: `10-year-old`, `5000rpm`) and
/// `HTHING` (dots and commas before a hyphen: `1.5-liter`, `v1.2-beta`).
fn lex_word(chars: &[char], i: usize, out: &mut Vec<String>) -> usize {
    let n = chars.len();
    let first = chars[i];
    // Only letters, digits and `.?!` so far, from a letter (WORD).
    let mut pure = is_letter(first);
    // Digits and separators so far (NUM); `sep`: a separator was taken.
    let mut numeric = !pure && !matches!(first, '@' | '#' | '_');
    let mut sep = matches!(first, '.' | ',' | ':' | '-' | '+');
    // A `?` / `!` was taken: only WORD can go on.
    let mut word_only = false;
    let mut has_at = false;
    let mut hyphenated = false;
    let mut j = i + 1; // first char always belongs to the word
    while j < n {
        let c = chars[j];
        if is_alnum(c) {
            if numeric && !is_digit(c) {
                if sep && !hthing_ahead(chars, i, j) {
                    break;
                }
                numeric = false;
                pure = false;
            }
            j += 1;
            continue;
        }
        if c == '_' && !word_only && chars.get(j + 1).is_some_and(|d| is_alnum(*d)) {
            pure = false;
            numeric = false;
            hyphenated = true;
            j += 1;
            continue;
        }
        let prev = chars[j - 1];
        if c == '\'' && !word_only && !has_at {
            match apostrophe_in_word(chars, i, j) {
                ApostropheInWord::Continue => {
                    pure = false;
                    numeric = false;
                    j += 1;
                    continue;
                }
                ApostropheInWord::End(end) => {
                    out_word(chars, i, end, out);
                    return end;
                }
                ApostropheInWord::Split => {}
            }
            let nxt = chars.get(j + 1).copied();
            // PTBLexer splits n't off a word of ASCII letters not ending in n (`SWORD`).
            if prev.eq_ignore_ascii_case(&'n')
                && nxt.is_some_and(|t| t.eq_ignore_ascii_case(&'t'))
                && (j - 1 == i
                    || (chars[i..j - 1].iter().all(char::is_ascii_alphabetic)
                        && !chars[j - 2].eq_ignore_ascii_case(&'n')))
            {
                // "isn't" -> "is" + "n't"; "don'ts" -> "do" + "n'ts"
                let end = j + 1 + letter_run(chars, j + 1);
                out_word(chars, i, j - 1, out);
                out.push(chars[j - 1..end].iter().collect());
                return end;
            }
            break;
        }
        let nxt = match chars.get(j + 1) {
            Some(&x) => x,
            None => break,
        };
        let ok = match c {
            '?' | '!' => pure && is_letter(nxt),
            '.' if word_only => is_letter(nxt),
            '.' => {
                if pure && is_letter(nxt) || numeric && is_digit(nxt) {
                    true
                } else if has_at {
                    is_alnum(prev) && is_alnum(nxt)
                } else if !hyphenated && hthing_ahead(chars, i, j) {
                    // Only a hyphen can end this HTHING well: leave WORD and NUM.
                    pure = false;
                    numeric = false;
                    true
                } else {
                    false
                }
            }
            _ if word_only => false,
            ',' if numeric && nxt.is_ascii_digit() => true,
            ',' if !hyphenated && hthing_ahead(chars, i, j) => {
                pure = false;
                numeric = false;
                true
            }
            ':' => numeric && nxt.is_ascii_digit(),
            '-' | '/' => is_alnum(prev) && is_alnum(nxt),
            '@' => is_alnum(prev) && is_alnum(nxt),
            '&' => prev.is_uppercase() && nxt.is_uppercase(),
            _ => false,
        };
        if !ok {
            break;
        }
        match c {
            '?' | '!' => word_only = true,
            '.' | ',' | ':' => sep = true,
            _ => {
                pure = false;
                numeric = false;
                has_at |= c == '@';
                hyphenated |= c == '-';
            }
        }
        j += 1;
    }
    // "ol'", "somethin'" keep their apostrophe; so does `[lLdDjJ]'` (l'a -> l' a).
    if j < n && chars[j] == '\'' && apos_contraction_at(chars, j).is_none() {
        let w = lower(&chars[i..j]);
        if APOS_FINAL_WORDS.contains(&w.as_str()) || (j - 1 == i && "lLdDjJ".contains(chars[i])) {
            out.push(chars[i..j + 1].iter().collect());
            return j + 1;
        }
    }
    out_word_with_period(chars, i, j, out)
}

/// End of the e-mail address PTBLexer 3.4.1 sees at `i`, if any: `[a-zA-Z0-9]`, anything but
/// `"<>|(){}`, `@`, then dot-separated parts of anything but `"<>|(){}.` (`foo@bar.com`,
/// `0@t_`, `a@b;c`); it is the longest token there.
fn email_end(chars: &[char], i: usize) -> Option<usize> {
    if !chars[i].is_ascii_alphanumeric() {
        return None;
    }
    let run = i + chars[i..]
        .iter()
        .take_while(|c| !"\"<>|(){}".contains(**c))
        .count();
    (i + 2..=run).rev().find(|&e| {
        chars[e - 1] != '.'
            && (i + 1..e - 1).any(|p| {
                chars[p] == '@'
                    && chars[p + 1] != '.'
                    && !chars[p + 1..e].windows(2).any(|w| w == ['.', '.'])
            })
    })
}

/// PTBLexer's `HTHING`: is `chars[i..j]` (then `.` or `,` at `j`) the start of
/// `[A-Za-z0-9][A-Za-z0-9.,]*` followed by a hyphen and a letter or digit (`v1.2-beta`)?
fn hthing_ahead(chars: &[char], i: usize, j: usize) -> bool {
    let part = |c: &char| c.is_ascii_alphanumeric() || *c == '.' || *c == ',';
    if !chars[i].is_ascii_alphanumeric() || !chars[i..j].iter().all(part) {
        return false;
    }
    let k = j + chars[j..].iter().take_while(|c| part(c)).count();
    chars.get(k) == Some(&'-') && chars.get(k + 1).is_some_and(|c| c.is_ascii_alphanumeric())
}

/// Emits `chars[i..j]`, splitting special forms; decides whether a following period belongs to
/// the word. Returns the next index.
fn out_word_with_period(chars: &[char], i: usize, j: usize, out: &mut Vec<String>) -> usize {
    if chars.get(j) == Some(&'.') && chars.get(j + 1) != Some(&'.') && period_attaches(&chars[i..j])
    {
        out_word(chars, i, j + 1, out);
        return j + 1;
    }
    out_word(chars, i, j, out);
    j
}

fn period_attaches(word: &[char]) -> bool {
    if word.is_empty() {
        return false;
    }
    // single letter: "b." / acronyms "u.s" "e.g" "a.m"
    let is_acronym = word.iter().enumerate().all(|(k, c)| {
        if k % 2 == 0 {
            c.is_ascii_alphabetic()
        } else {
            *c == '.'
        }
    }) && word.len() % 2 == 1;
    if is_acronym {
        return true;
    }
    let l = lower(word);
    ABBREVIATIONS.contains(&l.as_str())
        || (CAPITALIZED_ABBREVIATIONS.contains(&l.as_str()) && word[0].is_uppercase())
        // `Pp?t[ye]s?` and `M[ft]g`: the bracketed letter is case-sensitive.
        || (PTY.contains(&l.as_str()) && word[l.find('t').unwrap_or(0) + 1].is_lowercase())
        || (matches!(l.as_str(), "mfg" | "mtg") && word[1].is_lowercase())
}

/// Where PTB splits a whole (lower-cased) word in two: `can not`, `gon na`, `got ta`, ….
fn whole_word_split(lower: &str) -> Option<usize> {
    match lower {
        "cannot" | "gonna" | "gotta" | "wanna" | "lemme" | "gimme" => Some(3),
        _ => None,
    }
}

/// Emits `chars[i..j]` as a word, applying PTB's whole-word splits (cannot, gonna, ...).
fn out_word(chars: &[char], i: usize, j: usize, out: &mut Vec<String>) {
    if j <= i {
        return;
    }
    let w = &chars[i..j];
    match whole_word_split(&lower(w)) {
        Some(k) => {
            out.push(w[..k].iter().collect());
            out.push(w[k..].iter().collect());
        }
        None => out.push(w.iter().collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lexer's tokens for one whitespace-free chunk, as `ptb_segment` finishes them.
    fn lexed(chunk: &str) -> Vec<String> {
        let chars: Vec<char> = chunk.chars().map(normalize_char).collect();
        let mut raw = Vec::new();
        lex_chunk(&chars, &mut raw);
        raw.into_iter()
            .map(|t| t.to_lowercase())
            .filter(|t| !t.is_empty() && !PTB_PUNCTUATIONS.contains(&t.as_str()))
            .collect()
    }

    /// The ASCII-letters fast path gives what the lexer gives: on every abbreviation and special
    /// word in three casings, and on pseudo-random letter strings.
    #[test]
    fn letter_words_skip_the_lexer_unchanged() {
        let mut words: Vec<String> = Vec::new();
        for w in ABBREVIATIONS
            .iter()
            .chain(PTY)
            .chain(&[
                "cannot", "gonna", "gotta", "wanna", "lemme", "gimme", "mfg", "mtg",
            ])
            .chain(&[
                "no", "nos", "a", "i", "usa", "dog", "barking", "http", "www",
            ])
        {
            if w.bytes().all(|b| b.is_ascii_alphabetic()) {
                let mut title = w.to_string();
                title[..1].make_ascii_uppercase();
                words.extend([w.to_string(), title, w.to_ascii_uppercase()]);
            }
        }
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            let mut w = String::new();
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            for _ in 0..1 + (x >> 60) as usize % 9 {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let c = b"abcdefghijklmnopqrstuvwxyzAEIOUNT"[(x >> 33) as usize % 33];
                w.push(c as char);
            }
            words.push(w);
        }
        for w in &words {
            let mut fast = Vec::new();
            ptb_segment(w, &mut fast);
            assert_eq!(fast, lexed(w), "{w:?}");
            // In context too: a period-taking word before a number.
            let mut ctx = Vec::new();
            ptb_segment(&format!("{w} 5"), &mut ctx);
            let mut want = lexed(w);
            want.extend(lexed("5"));
            assert_eq!(ctx, want, "{w:?} 5");
        }
    }
}
