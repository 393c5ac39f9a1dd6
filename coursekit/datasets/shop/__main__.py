"""``python -m coursekit.datasets.shop [FOLDER]``: regenerate the shop files (:func:`~coursekit.datasets.shop.main`)."""
from coursekit.datasets.shop.files import main

raise SystemExit(main())
