// The search page's results block: the display options (one card per patient, the query patient's other images),
// the answer, and above it the tools (export, evidence, the refine bar). Marks and options are URL changes (`go`).
import { RefineContext, type RefineState } from "../../components/ResultActions";
import type { ScoreBands } from "../../lib/contracts/bands";
import type { ReadyInfo } from "../../lib/protocol/messages";
import type { SearchClient, SearchResult } from "../../lib/protocol/searchClient";
import { groupedFrom, pagesFrom, samePatientFrom, setGroupParam, setSameParam } from "./params";
import { clearMarks, isImageQuery, marksFrom, setAddWords, toggleMark } from "./refineParams";
import { ResultOptions } from "./ResultOptions";
import { PAGE, ResultsSection } from "./ResultsSection";
import { EvidencePanel, ExportButtons, RefineBar } from "./ResultTools";

interface Props {
  client: SearchClient;
  ready: ReadyInfo | null;
  params: URLSearchParams;
  go: (update: (p: URLSearchParams) => void) => void;
  scoreBands?: ScoreBands | undefined;
  result: SearchResult;
  resultKey: string;
  refine: RefineState;
}

export function SearchResults({ client, ready, params, go, scoreBands, result, resultKey, refine }: Props) {
  const pages = pagesFrom(params);
  const rowQuery = params.get("similar") !== null || params.get("like") !== null;
  const imageResult = /^(image|like:|similar:)/.test(resultKey);
  return (
    <RefineContext.Provider value={refine}>
      <ResultOptions
        rows={result.rows}
        grouped={groupedFrom(params)}
        onGrouped={(on) => go((p) => setGroupParam(p, on))}
        samePatient={rowQuery ? samePatientFrom(params) : null}
        onSamePatient={(on) => go((p) => setSameParam(p, on))}
      />
      <ResultsSection
        scoreBands={scoreBands}
        grouped={groupedFrom(params)}
        client={client}
        ready={ready}
        result={result}
        resultKey={resultKey}
        more={result.hits.length >= pages * PAGE && result.path !== "neighbors" && result.path !== "image"}
        onMore={() => go((p) => p.set("pages", String(pages + 1)))}
        tools={<ResultToolsBar params={params} go={go} result={result} resultKey={resultKey} imageResult={imageResult} />}
      />
    </RefineContext.Provider>
  );
}

function ResultToolsBar(props: Pick<Props, "params" | "go" | "result" | "resultKey"> & { imageResult: boolean }) {
  const { params, go, result } = props;
  const marks = marksFrom(params);
  return (
    <div className="mb-3 space-y-3">
      <ExportButtons result={result} query={props.resultKey} />
      {props.imageResult && <EvidencePanel result={result} />}
      <RefineBar
        pos={marks.pos}
        neg={marks.neg}
        names={new Map((result.marked ?? []).map((m) => [m.id, m.filename]))}
        onUnmark={(id, mark) => go((p) => toggleMark(p, id, mark))}
        onClear={() => go(clearMarks)}
        addWords={isImageQuery(params) ? (params.get("add") ?? "") : null}
        onAddWords={(w) => go((p) => setAddWords(p, w))}
      />
    </div>
  );
}
