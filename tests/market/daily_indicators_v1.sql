-- The SQL transform of gold.daily_indicators before it became transforms/indicators.py (commit 305b69a),
-- kept verbatim: tests/market/test_indicators_transform.py and bench/indicators.py compare the Python
-- transform with it. Reads the view `source` (gold.daily_bars). Quadratic in history: EMA and ATR fold
-- `aggregate()` over `collect_list()` of every earlier row.
WITH ordered AS (
  SELECT
    symbol,
    trade_date,
    high,
    low,
    close,
    lag(close) OVER (PARTITION BY symbol ORDER BY trade_date) AS prev_close,
    row_number() OVER (PARTITION BY symbol ORDER BY trade_date) AS day_number
  FROM source
),
with_returns AS (
  SELECT
    *,
    close / prev_close - 1 AS return_1d,
    ln(close / prev_close) AS log_return_1d,
    CASE WHEN prev_close IS NULL THEN high - low
         ELSE greatest(high - low, abs(high - prev_close), abs(low - prev_close)) END AS true_range
  FROM ordered
),
histories AS (
  SELECT
    *,
    collect_list(close) OVER history AS close_history,
    collect_list(true_range) OVER history AS tr_history,
    CASE WHEN count(close) OVER last_5 = 5 THEN avg(close) OVER last_5 END AS sma_5,
    CASE WHEN count(close) OVER last_20 = 20 THEN avg(close) OVER last_20 END AS sma_20,
    CASE WHEN count(close) OVER last_50 = 50 THEN avg(close) OVER last_50 END AS sma_50,
    CASE WHEN count(log_return_1d) OVER last_20 = 20
         THEN stddev_samp(log_return_1d) OVER last_20 * sqrt(252) END AS volatility_20d
  FROM with_returns
  WINDOW
    history AS (PARTITION BY symbol ORDER BY trade_date ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW),
    last_5 AS (PARTITION BY symbol ORDER BY trade_date ROWS BETWEEN 4 PRECEDING AND CURRENT ROW),
    last_20 AS (PARTITION BY symbol ORDER BY trade_date ROWS BETWEEN 19 PRECEDING AND CURRENT ROW),
    last_50 AS (PARTITION BY symbol ORDER BY trade_date ROWS BETWEEN 49 PRECEDING AND CURRENT ROW)
)
SELECT
  symbol,
  trade_date,
  close,
  return_1d,
  log_return_1d,
  sma_5,
  sma_20,
  sma_50,
  aggregate(close_history, CAST(NULL AS DOUBLE),
            (ema, c) -> CASE WHEN ema IS NULL THEN c ELSE ema + (2.0D / 21.0D) * (c - ema) END) AS ema_20,
  true_range,
  aggregate(tr_history, named_struct('n', 0, 'total', 0.0D, 'atr', CAST(NULL AS DOUBLE)),
            (acc, tr) -> named_struct(
              'n', acc.n + 1,
              'total', acc.total + tr,
              'atr', CASE WHEN acc.n + 1 < 14 THEN CAST(NULL AS DOUBLE)
                          WHEN acc.n + 1 = 14 THEN (acc.total + tr) / 14.0D
                          ELSE (acc.atr * 13.0D + tr) / 14.0D END),
            acc -> acc.atr) AS atr_14,
  volatility_20d
FROM histories
