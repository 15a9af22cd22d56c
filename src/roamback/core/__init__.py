"""The domain core: callback lifecycle, policies, numbers, texts and the ports adapters implement.

Plain Python: no Twisted protocol, no SQL. Adapters are chosen by configuration in ``roamback.app``.
"""
