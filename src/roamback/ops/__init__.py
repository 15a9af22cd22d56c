"""Operations: logging set-up now; SNMP, metrics and admin tooling later."""
