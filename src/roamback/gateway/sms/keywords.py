"""The words subscribers type to start each SMS command, per language, with the operator's on top.

Every language's words are accepted at once: a roamer does not switch keyboards to match a setting,
and knowing which language a word came from lets the reply use it. Two languages may share a word for
the same command (``SALDO`` in Spanish and Portuguese); a word meaning two *different* commands would
make the service guess, so it stops the configuration instead, naming the word. Words are compared
after case folding and with accents and Arabic vowel marks dropped, so ``Código``, ``CODIGO`` and
``código`` are one word, as handsets and autocorrect produce all three.
"""

from __future__ import annotations

import enum
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType


class CommandKind(enum.Enum):
    CALLBACK = "callback"
    BALANCE = "balance"
    REGISTER = "register"
    UNREGISTER = "unregister"
    CONFIRM = "confirm"
    LANGUAGE = "language"
    HELP = "help"
    CONFERENCE = "conference"


_C = CommandKind
DEFAULT_KEYWORDS: Mapping[str, Mapping[CommandKind, tuple[str, ...]]] = MappingProxyType({
    "en": {_C.CALLBACK: ("CB", "CALL"), _C.BALANCE: ("BAL", "BALANCE"), _C.REGISTER: ("REG", "REGISTER"),
           _C.UNREGISTER: ("UNREG", "UNREGISTER"), _C.CONFIRM: ("CODE",), _C.LANGUAGE: ("LANG", "LANGUAGE"),
           _C.HELP: ("HELP", "?"), _C.CONFERENCE: ("CONF", "CONFERENCE")},
    "fr": {_C.CALLBACK: ("RAPPEL", "APPEL"), _C.BALANCE: ("SOLDE",), _C.REGISTER: ("INSCRIRE", "INSCRIPTION"),
           _C.UNREGISTER: ("DESINSCRIRE", "DÉSINSCRIPTION"), _C.CONFIRM: ("CODE",),
           _C.LANGUAGE: ("LANGUE",), _C.HELP: ("AIDE",), _C.CONFERENCE: ("CONF", "CONFÉRENCE")},
    "es": {_C.CALLBACK: ("LLAMAR", "LLAMADA"), _C.BALANCE: ("SALDO",), _C.REGISTER: ("REGISTRAR", "ALTA"),
           _C.UNREGISTER: ("BAJA",), _C.CONFIRM: ("CÓDIGO",), _C.LANGUAGE: ("IDIOMA",),
           _C.HELP: ("AYUDA",), _C.CONFERENCE: ("CONFERENCIA",)},
    "pt": {_C.CALLBACK: ("LIGAR", "CHAMADA"), _C.BALANCE: ("SALDO",), _C.REGISTER: ("REGISTAR", "REGISTRAR"),
           _C.UNREGISTER: ("CANCELAR",), _C.CONFIRM: ("CÓDIGO",), _C.LANGUAGE: ("IDIOMA",),
           _C.HELP: ("AJUDA",), _C.CONFERENCE: ("CONFERÊNCIA",)},
    "ar": {_C.CALLBACK: ("اتصال", "اتصل"), _C.BALANCE: ("رصيد",), _C.REGISTER: ("تسجيل",),
           _C.UNREGISTER: ("إلغاء",), _C.CONFIRM: ("رمز",), _C.LANGUAGE: ("لغة",),
           _C.HELP: ("مساعدة",), _C.CONFERENCE: ("مؤتمر",)},
    "ru": {_C.CALLBACK: ("ЗВОНОК", "ВЫЗОВ"), _C.BALANCE: ("БАЛАНС",), _C.REGISTER: ("РЕГ", "РЕГИСТРАЦИЯ"),
           _C.UNREGISTER: ("ОТКЛ", "ОТКЛЮЧИТЬ"), _C.CONFIRM: ("КОД",), _C.LANGUAGE: ("ЯЗЫК",),
           _C.HELP: ("ПОМОЩЬ", "СПРАВКА"), _C.CONFERENCE: ("КОНФ", "КОНФЕРЕНЦИЯ")},
})
del _C

# Arabic letters typed interchangeably: alef maksura for yeh, teh marbuta for heh; tatweel is decoration.
_ARABIC_VARIANTS = str.maketrans({"ى": "ي", "ة": "ه", "ـ": None})


def fold(word: str) -> str:
    """The form words are compared in: case folded, compatibility forms (full-width Latin, Arabic
    presentation forms) unified, combining marks (accents, harakat, hamza) removed."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return unicodedata.normalize("NFC", bare.translate(_ARABIC_VARIANTS))


class KeywordError(ValueError):
    """Every problem in the operator's keywords, so they can all be fixed in one go."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = tuple(problems)


@dataclass(frozen=True, slots=True)
class Match:
    kind: CommandKind
    languages: tuple[str, ...]  # every language that has this word for this command, in table order


class KeywordTable:
    """Folded word -> command and languages. Build it with ``from_config``, which validates."""

    def __init__(self, entries: Mapping[str, Match]) -> None:
        self._entries = dict(entries)

    @classmethod
    def from_config(
        cls,
        overrides: Mapping[str, Mapping[str, Iterable[str]]] | None = None,
        languages: Iterable[str] | None = None,
    ) -> KeywordTable:
        """Default words, with ``overrides`` ({language: {command: [words]}}) replacing a command's words
        in that language (an empty list withdraws the command there) or adding a language. ``languages``
        limits which languages are accepted at all; None accepts every one. Raises KeywordError."""
        problems: list[str] = []
        table = {language: dict(commands) for language, commands in DEFAULT_KEYWORDS.items()}
        for language, commands in (overrides or {}).items():
            for name, words in commands.items():
                try:
                    kind = CommandKind(name)
                except ValueError:
                    expected = ", ".join(known.value for known in CommandKind)
                    problems.append(f"{language}.{name}: unknown command, expected one of {expected}")
                    continue
                table.setdefault(language, {})[kind] = _words(language, name, words, problems)
        accepted = list(table) if languages is None else list(languages)
        problems.extend(f"{language}: no keywords for this language" for language in accepted
                        if language not in table)
        entries = _index({language: table[language] for language in accepted if language in table}, problems)
        if problems:
            raise KeywordError(problems)
        return cls(entries)

    def lookup(self, word: str) -> Match | None:
        return self._entries.get(fold(word))



def _words(language: str, name: str, words: Iterable[str], problems: list[str]) -> tuple[str, ...]:
    if isinstance(words, str):
        problems.append(f"{language}.{name}: expected a list of words, got the string {words!r}")
        return ()
    checked = []
    for word in words:
        if not isinstance(word, str) or not word.strip() or len(word.split()) != 1:
            problems.append(f"{language}.{name}: {word!r} must be one word")
        elif any(char.isdecimal() or char == "+" for char in word):
            problems.append(f"{language}.{name}: {word!r} has digits or '+', it would read as a number")
        else:
            checked.append(word.strip())
    return tuple(checked)


def _index(table: Mapping[str, Mapping[CommandKind, tuple[str, ...]]], problems: list[str]) -> dict[str, Match]:
    entries: dict[str, Match] = {}
    for language, commands in table.items():
        for kind, words in commands.items():
            for word in words:
                folded = fold(word)
                known = entries.get(folded)
                if known is None:
                    entries[folded] = Match(kind, (language,))
                elif known.kind is not kind:
                    problems.append(f"keyword {word!r} ({language}) means both {known.kind.value} "
                                    f"({', '.join(known.languages)}) and {kind.value}")
                elif language not in known.languages:
                    entries[folded] = Match(kind, (*known.languages, language))
    return entries
