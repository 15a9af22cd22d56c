"""Texts that exercise the cut points: GSM with many escape pairs, and UCS2 with many surrogate pairs."""

from hypothesis import strategies as st

from roamback.gateway.sms.encoding import fits_gsm

GSM_CHARS = "".join(ch for ch in map(chr, range(0x250)) if fits_gsm(ch))
EXTENSION = "€[]{}~^|\\\x0c"

gsm_texts = st.text(alphabet=st.sampled_from(GSM_CHARS + EXTENSION * 4), max_size=700)
ucs2_texts = st.text(alphabet=st.sampled_from("жé€😀👍🏽\u0627a"), max_size=400)
any_texts = gsm_texts | ucs2_texts | st.text(max_size=300)
