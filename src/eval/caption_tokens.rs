//! Caption tokenization for the captioning metrics: [`CaptionTokenizer::Ptb`], a Rust
//! approximation of `pycocoevalcap/tokenizer/ptbtokenizer.py` (Stanford CoreNLP 3.4.1's
//! `PTBTokenizer -preserveLines -lowerCase`, then its `PUNCTUATIONS` list dropped; `-lrb-` and
//! friends are kept, as pycocoevalcap keeps them), and [`CaptionTokenizer::Plain`]. Never panics;
//! may return no tokens. The differences from the Java tokenizer measured on the parity fixture are
//! listed in `tests/fixtures/caption_metrics/PROVENANCE.md`.

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
    let mut raw: Vec<String> = Vec::new();
    let chunks: Vec<&str> = text
        .split(|c: char| c.is_whitespace())
        .filter(|c| !c.is_empty())
        .collect();
    for (k, chunk) in chunks.iter().enumerate() {
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
    raw.into_iter()
        .map(|mut t| {
            if t.is_ascii() {
                t.make_ascii_lowercase();
                t
            } else {
                t.to_lowercase()
            }
        })
        .filter(|t| !t.is_empty() && !PTB_PUNCTUATIONS.contains(&t.as_str()))
        .collect()
}

fn normalize_char(c: char) -> char {
    match c {
        '\u{2018}' | '\u{2019}' | '\u{201B}' | '\u{2032}' => '\'',
        _ => c,
    }
}

fn is_alnum(c: char) -> bool {
    c.is_alphanumeric()
}

/// Abbreviations that keep their final period (subset of PTBLexer's lists, lower-cased).
const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "drs", "prof", "profs", "st", "ste", "jr", "sr", "etc", "vs", "inc",
    "ft", "mt", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov",
    "dec", "capt", "co", "cos", "corp", "ltd", "gen", "gov", "govs", "sen", "sens", "rep", "reps",
    "lt", "col", "sgt", "ave", "blvd", "rd", "mon", "tue", "tues", "wed", "thu", "thurs", "fri",
    "rev", "maj", "cpl", "pvt", "adm", "hon", "pres", "dept", "univ", "esq", "bros", "messrs",
    "mme", "mlle", "plc", "assn", "intl",
];

/// Contractions after an apostrophe that PTB splits off as their own token ("dog's" -> "'s").
const APOS_SUFFIXES: &[&str] = &["s", "re", "ll", "ve", "m", "d"];

fn lower(s: &[char]) -> String {
    s.iter().collect::<String>().to_lowercase()
}

/// Length of the run of alphanumerics starting at `i`.
fn alnum_run(chars: &[char], i: usize) -> usize {
    chars[i.min(chars.len())..]
        .iter()
        .take_while(|c| is_alnum(**c))
        .count()
}

/// Is `chars[i]` (an apostrophe) the start of a split-off contraction such as `'s` / `'ll`,
/// ending a word? Returns its length in chars.
fn apos_contraction_at(chars: &[char], i: usize) -> Option<usize> {
    if chars.get(i) != Some(&'\'') {
        return None;
    }
    let run = alnum_run(chars, i + 1);
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
    // URLs are kept whole (minus trailing punctuation).
    let low = lower(chars);
    if low.starts_with("http://") || low.starts_with("https://") || low.starts_with("www.") {
        let mut end = n;
        while end > 0 && ".,;:!?)]}\"'".contains(chars[end - 1]) {
            end -= 1;
        }
        out.push(chars[..end].iter().collect());
        lex_chunk(&chars[end..], out);
        return;
    }
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
            '.' if next.is_some_and(|d| d.is_ascii_digit()) => i = lex_word(chars, i, out),
            '-' | '+' if next.is_some_and(|d| d.is_ascii_digit()) => i = lex_word(chars, i, out),
            '@' if next.is_some_and(is_alnum) => i = lex_word(chars, i, out),
            '#' if next.is_some_and(char::is_alphabetic) => i = lex_word(chars, i, out),
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
            _ if is_alnum(c) || c == '_' => i = lex_word(chars, i, out),
            // PTBTokenizer deletes untokenizable characters (e.g. emoji, controls).
            _ if (c as u32) > 0xFFFF || c.is_control() => i += 1,
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
    let run = alnum_run(chars, i + 1);
    if run > 0 {
        let word = lower(&chars[i + 1..i + 1 + run]);
        // 'n'
        if word == "n" && chars.get(i + 2) == Some(&'\'') {
            out.push(chars[i..i + 3].iter().collect());
            return i + 3;
        }
        // 'tis, 'twas -> 't is / 't was
        if word == "tis" || word == "twas" {
            out.push(chars[i..i + 2].iter().collect());
            return i + 2;
        }
        // 'em, 'cause, 'til, '90s kept whole
        // '90s (digits then "s"); a bare '10 is a quote followed by a number
        let is_decade = run >= 2
            && chars[i + 1..i + run].iter().all(|c| c.is_ascii_digit())
            && chars[i + run].eq_ignore_ascii_case(&'s');
        if word == "em" || word == "cause" || word == "til" || is_decade {
            out.push(chars[i..i + 1 + run].iter().collect());
            return i + 1 + run;
        }
    }
    let _ = n;
    out.push("'".into());
    i + 1
}

/// Lexes a word-like token starting at `i` (alphanumeric, or a sign / dot followed by a
/// digit). Returns the next index.
fn lex_word(chars: &[char], i: usize, out: &mut Vec<String>) -> usize {
    let n = chars.len();
    let mut j = i + 1; // first char always belongs to the word
    while j < n {
        let c = chars[j];
        if is_alnum(c) || c == '_' {
            j += 1;
            continue;
        }
        let prev = chars[j - 1];
        let nxt = match chars.get(j + 1) {
            Some(&x) => x,
            None => break,
        };
        let ok = match c {
            '-' => is_alnum(prev) && is_alnum(nxt),
            '.' => is_alnum(prev) && is_alnum(nxt),
            ',' | ':' => prev.is_ascii_digit() && nxt.is_ascii_digit(),
            '/' => is_alnum(prev) && is_alnum(nxt),
            '@' => is_alnum(prev) && is_alnum(nxt),
            '&' => prev.is_uppercase() && nxt.is_uppercase(),
            '\'' => {
                if !(prev.is_alphabetic() && nxt.is_alphabetic())
                    || apos_contraction_at(chars, j).is_some()
                {
                    false
                } else if prev.eq_ignore_ascii_case(&'n')
                    && j - 1 > i
                    && nxt.eq_ignore_ascii_case(&'t')
                    && alnum_run(chars, j + 1) == 1
                {
                    // "isn't" -> "is" + "n't"
                    out_word(chars, i, j - 1, out);
                    out.push(chars[j - 1..j + 2].iter().collect());
                    return j + 2;
                } else if nxt.eq_ignore_ascii_case(&'n') && chars.get(j + 2) == Some(&'\'') {
                    false // rock'n'roll -> rock 'n' roll
                } else if j - i == 1 && prev.eq_ignore_ascii_case(&'y') {
                    // y'all -> y' all
                    out.push(chars[i..j + 1].iter().collect());
                    return j + 1;
                } else {
                    true
                }
            }
            _ => false,
        };
        if ok {
            j += 1;
        } else {
            break;
        }
    }
    // "ol'" keeps its apostrophe
    if j < n && chars[j] == '\'' && lower(&chars[i..j]) == "ol" && alnum_run(chars, j + 1) == 0 {
        out.push(chars[i..j + 1].iter().collect());
        return j + 1;
    }
    // "n't" at the end of the word without apostrophe inside: handled above.
    out_word_with_period(chars, i, j, out)
}

/// Emits `chars[i..j]`, splitting special forms; decides whether a following period belongs to
/// the word. Returns the next index.
fn out_word_with_period(chars: &[char], i: usize, j: usize, out: &mut Vec<String>) -> usize {
    // Times followed by letters: "2:30pm" -> "2:30" "pm"
    let mut start = i;
    if chars[i..j].contains(&':') {
        if let Some(k) = (i..j).find(|&k| chars[k].is_alphabetic()) {
            if k > i && chars[k - 1].is_ascii_digit() {
                out_word(chars, i, k, out);
                start = k;
            }
        }
    }
    if chars.get(j) == Some(&'.')
        && chars.get(j + 1) != Some(&'.')
        && period_attaches(&chars[start..j])
    {
        out_word(chars, start, j + 1, out);
        return j + 1;
    }
    out_word(chars, start, j, out);
    j
}

fn period_attaches(word: &[char]) -> bool {
    if word.is_empty() {
        return false;
    }
    // single letter: "b." / acronyms "u.s" "e.g" "a.m"
    let is_acronym = word.iter().enumerate().all(|(k, c)| {
        if k % 2 == 0 {
            c.is_alphabetic()
        } else {
            *c == '.'
        }
    }) && word.len() % 2 == 1;
    if is_acronym {
        return true;
    }
    ABBREVIATIONS.contains(&lower(word).as_str())
}

/// Emits `chars[i..j]` as a word, applying PTB's whole-word splits (cannot, gonna, ...).
fn out_word(chars: &[char], i: usize, j: usize, out: &mut Vec<String>) {
    if j <= i {
        return;
    }
    let w = &chars[i..j];
    let l = lower(w);
    let split_at = match l.as_str() {
        "cannot" => Some(3),
        "gonna" | "gotta" | "wanna" | "lemme" | "gimme" => Some(3),
        _ => None,
    };
    match split_at {
        Some(k) => {
            out.push(w[..k].iter().collect());
            out.push(w[k..].iter().collect());
        }
        None => out.push(w.iter().collect()),
    }
}
