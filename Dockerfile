# ShopBot: the bot, its scheduler and its web server in one image.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HTTP_HOST=0.0.0.0

WORKDIR /app

# Every dependency, transitive ones too, at the version and with the hashes of the lock
# file (`make lock`): the image runs what CI tested, and a tampered download is refused.
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock

# Only what the bot needs: no virtualenv, no .env, no local database from the build context.
# The bot runs from /app (its working directory), where it finds locales/ and the migrations.
COPY pyproject.toml README.md alembic.ini ./
COPY locales ./locales
COPY bot ./bot
COPY handlers ./handlers
COPY services ./services
COPY storage ./storage

RUN pip install --no-deps . \
    && python -c "from bot.i18n import compile_catalogs; compile_catalogs()" \
    && useradd --create-home --uid 10001 shopbot \
    && mkdir -p /app/data \
    && chown shopbot /app/data

USER shopbot
EXPOSE 8080 8025
CMD ["python", "-m", "bot", "run"]
