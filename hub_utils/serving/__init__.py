"""What the app uses: model sources and loading, the model thread, batch files, and the plain
functions behind each tab (they raise ``BadRequestError``; ``app.py`` shows it); and the file
scorer of ``python -m hub_utils classify-file``, which shares the batch files' code."""
