"""Operations: what running the pipeline on a server needs, without Prefect.

``notify`` mails the operator; ``delivery`` is the one call the ``deliver``
flow makes; ``lease`` keeps two workers from collecting the same month at
once. Prefect itself stays in ``flows/`` (this package never imports it).
"""
