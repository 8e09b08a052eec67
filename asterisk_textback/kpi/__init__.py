"""What the texts earned: the DESIGN §8 KPIs, conversions, A/B statistics, the calculator.

``metrics.compute_kpis`` builds one period's report from the aggregates in
``store.kpi_queries``; ``conversions`` holds the tracking tokens and the booking value types
(``store.bookings`` stores and attributes them); ``stats`` holds the A/B maths and
``experiments`` feeds it; ``calculator`` is the seed's revenue calculator;
``report.run_report`` is ``asterisk-textback report``. Import the submodules: this package
init loads nothing, so a pure module here never drags in the database.
"""
