#pragma once
// The one way ui includes QCustomPlot. Its header uses `foreach` inside inline templates and the
// signals/slots keywords, which QT_NO_FOREACH and QT_NO_KEYWORDS (on for this project) remove; they
// stand in while the header is parsed and are gone again after it, so LibTorch's headers still parse.
#include <QtGlobal>
#if defined(QT_NO_FOREACH) && !defined(foreach)
#define foreach(variable, container) for (variable : container)
#define SCALEBITS_QCP_FOREACH
#endif
#if defined(QT_NO_KEYWORDS) && !defined(signals)
#define signals Q_SIGNALS
#define slots Q_SLOTS
#define emit Q_EMIT
#define SCALEBITS_QCP_KEYWORDS
#endif
#include <qcustomplot.h>
#ifdef SCALEBITS_QCP_FOREACH
#undef foreach
#undef SCALEBITS_QCP_FOREACH
#endif
#ifdef SCALEBITS_QCP_KEYWORDS
#undef signals
#undef slots
#undef emit
#undef SCALEBITS_QCP_KEYWORDS
#endif
