#!/usr/bin/env python3
"""Writes the tokenizer exactness corpus: JSON Lines, one string a line.

Deterministic (fixed seed, no input files): the same corpus on every machine
and every run. About 16,000 strings: English, other scripts, CJK, emoji and
ZWJ sequences, accents in NFC and NFD, control and zero-width characters,
ligatures and full-width forms, very long words, empty and whitespace-only
strings, literal special tokens, and a sweep over every code point of planes
0-3 and 14 (so every character class the normalizer and the pre-tokenizer
distinguish is met at least once).

    make_corpus.py OUT.jsonl [--seed N]
"""
import argparse
import json
import random
import unicodedata

WORDS = """the of and to in is was for on that with as by at from his her it an
were are which this be or has had not first one their its new after who they
two all been also more other time would when between into during most where
only over world about some many state school music city united national later
such while under film government university team through year may before both
series war people used known can season several league three work then since
member well part same against until because each early main include american
however around family group life called being four found became game music's
don't can't won't it's I'm naïve café résumé coöperate façade jalapeño
Zürich São Paulo Kraków Ångström über straße Øresund Đorđe İstanbul ıslak
tokenization unbelievably antidisestablishmentarianism hyperparameter GPUs
COVID-19 e-mail user@example.com https://example.com/a?b=c&d=e #hashtag
$100 3.14159 1,000,000 50% (parentheses) [brackets] {braces} <angle> "quoted"
'single' `backtick` ~tilde^caret|pipe\\backslash/slash *star* _under_ a+b=c
""".split()

SCRIPTS = {
    "cyrillic": (0x0410, 0x044F), "greek": (0x0391, 0x03C9),
    "arabic": (0x0621, 0x064A), "hebrew": (0x05D0, 0x05EA),
    "devanagari": (0x0905, 0x0939), "thai": (0x0E01, 0x0E30),
    "hangul": (0xAC00, 0xD7A3), "hiragana": (0x3041, 0x3096),
    "katakana": (0x30A1, 0x30FA), "cjk": (0x4E00, 0x9FFF),
    "cjk_ext_a": (0x3400, 0x4DBF), "cjk_ext_b": (0x20000, 0x2A6DF),
    "georgian": (0x10D0, 0x10FA), "armenian": (0x0531, 0x0556),
    "ethiopic": (0x1200, 0x1248), "bengali": (0x0985, 0x09B9),
    "tamil": (0x0B85, 0x0BB9), "latin_ext": (0x0100, 0x024F),
    "ipa": (0x0250, 0x02AF), "math_alnum": (0x1D400, 0x1D7FF),
}
EMOJI = ["😀", "😂", "🥰", "🤖", "🫠", "👍", "👍🏽", "❤️", "🇫🇷", "🇯🇵",
         "👩‍💻", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🧑🏿‍🚀", "🐈‍⬛", "✈️", "☺︎", "#️⃣",
         "🙇‍♀️", "🏴󠁧󠁢󠁳󠁣󠁴󠁿"]
CONTROLS = ["\x00", "\x01", "\x07", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f",
            "\x85", "\t", "\n", "\r", "\r\n", "\u200b", "\u200c", "\u200d",
            "\u2060", "\ufeff", "\u00ad", "\u061c", "\u200e", "\u202e",
            "\ufffd", "\ue000", "\U000f0000", "\u2028", "\u2029", "\u3000",
            "\u00a0", "\u1680", "\u2003", "\u202f", "\u205f", "\u180e"]
LIGATURES = ["ﬁ", "ﬂ", "ﬀ", "ﬃ", "ﬄ", "ﬅ", "ﬆ", "Ĳ", "ǆ", "Œ", "æ", "ß",
             "ẞ", "ŉ", "ǰ", "ΐ", "ﬓ", "℃", "№", "™", "½", "²", "Ⅻ", "㍿", "㌀"]
SPECIALS = ["[CLS]", "[SEP]", "[MASK]", "[PAD]", "[UNK]", "[cls]", "[Mask]",
            "[CLS", "CLS]", "[ CLS ]", "[[CLS]]", "[MASK][MASK]", "##", "##ing"]
SPACES = [" ", "  ", "\t", "\n", "\u00a0", "\u3000", "\u2009", "\r\n"]


def rand_script_word(rng, lo, hi, n):
    out = []
    while len(out) < n:
        c = chr(rng.randint(lo, hi))
        if unicodedata.category(c) != "Cn":
            out.append(c)
    return "".join(out)


def english(rng, n):
    words = []
    for _ in range(n):
        w = rng.choice(WORDS)
        r = rng.random()
        if r < 0.15:
            w = w.capitalize()
        elif r < 0.2:
            w = w.upper()
        words.append(w)
    s = " ".join(words)
    if rng.random() < 0.5:
        s += rng.choice([".", "!", "?", "...", " :)", ";"])
    return s


def full_width(s):
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else
                   ("\u3000" if c == " " else c) for c in s)


def generate(seed):
    rng = random.Random(seed)
    out = ["", " ", "   ", "\t\n", "\u3000\u00a0", "\u200b", "\x00",
           "a", "A", ".", "[CLS]", "[SEP] [SEP]", "hello [MASK] world",
           "x[MASK]y", "İ", "i̇", "ΣΑΣ", "ß", "ﬁ", "Ⅻ", "\U0001F600"]
    for _ in range(3000):  # English, short to long
        out.append(english(rng, rng.choice([1, 3, 8, 20, 60, 200])))
    for name, (lo, hi) in sorted(SCRIPTS.items()):
        for _ in range(120):
            words = [rand_script_word(rng, lo, hi, rng.randint(1, 12))
                     for _ in range(rng.randint(1, 10))]
            if rng.random() < 0.3:
                words.insert(rng.randrange(len(words) + 1), rng.choice(WORDS))
            out.append(rng.choice([" ", "", ", "]).join(words))
    for _ in range(800):  # emoji and ZWJ sequences
        parts = [rng.choice(EMOJI + WORDS[:40]) for _ in range(rng.randint(1, 8))]
        out.append(rng.choice(["", " "]).join(parts))
    for _ in range(1200):  # accents, NFC and NFD
        s = english(rng, rng.randint(1, 12))
        form = rng.choice(["NFC", "NFD", "NFKC", "NFKD", None])
        out.append(unicodedata.normalize(form, s) if form else s)
        w = rand_script_word(rng, 0x00C0, 0x024F, rng.randint(1, 10))
        extra = "".join(chr(rng.randint(0x0300, 0x036F))
                        for _ in range(rng.randint(0, 3)))
        out.append(unicodedata.normalize(rng.choice(["NFC", "NFD"]), w + extra))
    for _ in range(1000):  # control, zero-width and odd spaces
        parts = []
        for _ in range(rng.randint(1, 10)):
            parts.append(rng.choice(CONTROLS + SPACES + WORDS[:60]))
        out.append("".join(parts) if rng.random() < 0.5 else " ".join(parts))
    for _ in range(600):  # ligatures and full-width forms
        s = english(rng, rng.randint(1, 8))
        if rng.random() < 0.5:
            s = full_width(s)
        else:
            s = "".join(rng.choice(LIGATURES) if rng.random() < 0.2 else c
                        for c in s)
        out.append(s)
    for _ in range(400):  # very long words, at and around the 100-char limit
        n = rng.choice([98, 99, 100, 101, 102, 150, 500, 3000])
        alphabet = rng.choice(["abcdefghij", "ab", "日本語", "é", "xyz🤖"])
        out.append("".join(rng.choice(alphabet) for _ in range(n)))
    for _ in range(600):  # whitespace only, special-token text
        if rng.random() < 0.3:
            out.append("".join(rng.choice(SPACES) for _ in range(rng.randint(1, 6))))
        else:
            parts = [rng.choice(SPECIALS + WORDS[:50]) for _ in range(rng.randint(1, 8))]
            out.append(rng.choice(["", " "]).join(parts))
    for _ in range(1000):  # random code points from the whole range
        cps = []
        for _ in range(rng.randint(1, 30)):
            cp = rng.choice([rng.randint(0x20, 0x7F), rng.randint(0x80, 0x2FFF),
                             rng.randint(0x3000, 0xFFFF), rng.randint(0x10000, 0x10FFFF)])
            if not 0xD800 <= cp <= 0xDFFF:
                cps.append(chr(cp))
        out.append("".join(cps))
    # The sweep: every code point of planes 0-3 and the tag/variation-selector
    # block of plane 14, 48 a string, alternately space-separated and not.
    cps = [c for c in list(range(0, 0x40000)) + list(range(0xE0000, 0xE0200))
           if not 0xD800 <= c <= 0xDFFF]
    for i in range(0, len(cps), 48):
        chunk = [chr(c) for c in cps[i:i + 48]]
        out.append((" " if (i // 48) % 2 == 0 else "").join(chunk))
    return out


def long_texts(seed, base, count=800):
    """Long texts (a few hundred to several thousand bytes) made of strings of
    `base` joined by spaces or nothing, some with combining marks right after
    a space: the tokenizer stops early when it truncates from the right and
    normalizes long texts a chunk at a time, cut after an ASCII space, and
    these put every script, mark and control character near those cuts."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        parts = [rng.choice(base) for _ in range(rng.randint(5, 60))]
        sep = rng.choice([" ", " ", "", "  \u0301", " \u0308\u0323"])
        out.append(sep.join(parts))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args()
    corpus = generate(args.seed)
    with open(args.out, "w", encoding="utf-8") as f:
        for s in corpus:
            f.write(json.dumps(s, ensure_ascii=True) + "\n")
    print(f"{len(corpus)} strings written to {args.out}")


if __name__ == "__main__":
    main()
