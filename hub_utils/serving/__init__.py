"""What only the app uses: model sources and loading, the model thread, batch files, and the
plain functions behind each tab (they raise ``BadRequestError``; ``app.py`` shows it)."""
