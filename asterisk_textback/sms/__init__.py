"""SMS providers: one small adapter per provider behind the :class:`Provider` Protocol.

The send side reads ``outbox → dispatcher → SwappableProvider → adapter → vendor API``:

- ``base.py`` — the value types (:class:`~.base.OutboundSms`, :class:`~.base.SendResult`,
  delivery reports, inbound texts) and the ``Provider``/``WebhookAdapter`` Protocols;
- ``_http.py`` — the one HTTP path: :class:`~._http.Client` makes every call (timeout,
  connector errors), and one classifier maps every answer (408/429/5xx transient with
  ``Retry-After``, the vendor's code table, 401/403 auth, the vendor's own 402, …);
- ``vendors/`` — one module per provider, holding only its payloads, its pydantic response
  and callback models, its code table and its ``Dialect``;
- ``settings/`` — the ``[provider]`` section, one pure pydantic module per vendor, so that
  reading the config loads no aiohttp and no adapter;
- ``registry.py`` — provider name → ``"module:attribute"`` of its builders, imported only
  when that provider is built;
- ``swap.py`` (SIGHUP reload without dropping a request), ``lookup.py`` (line type before a
  first text), ``wire.py`` (how vendors spell numbers and times).

Adding a provider: one module in ``vendors/`` (with ``build`` and, if it calls us back,
``build_webhook``), its settings class in ``settings/<name>.py`` with its field on
``ProviderSettings``, and one :class:`~.registry.Entry` line in ``registry.PROVIDERS``.
"""
