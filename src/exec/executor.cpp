#include "exec/executor.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "exec/input_pages.h"
#include "exec/output_rows.h"
#include "exec/write_queue.h"
#include "io/write_fully.h"
#include "util/error.h"

namespace alloy {

namespace {

struct Block {
  size_t job;
  int64_t row_begin, row_end;
};

// Shared state of one run: a queue of jobs not yet prepared, and a queue of blocks of prepared
// jobs. Workers prefer blocks (finishing tensors that are under way) over starting new jobs.
class Run {
 public:
  Run(const MergePlan& plan, const OutputLayout& layout, const std::vector<int>& fds, const ExecOptions& opt)
      : plan_(plan), layout_(layout), fds_(fds), opt_(opt), kernels_(plan.jobs.size()),
        pending_(plan.jobs.size()), uncomputed_(plan.jobs.size()), order_(plan.jobs.size()),
        pages_(plan, opt.drop_input_pages, opt.drop_lag_per_input) {
    // The jobs' calls, each telling this run's pages which rows its passes are done with.
    calls_.reserve(plan_.jobs.size());
    for (const auto& job : plan_.jobs) {
      calls_.push_back(job.call);
      calls_.back().rows_done = &pages_;
    }
    // Largest tensors first (embeddings, lm_head, ...), the rest in plan order: a large tensor
    // whose whole-tensor passes run on one thread must not be the last job, with the other
    // threads idle. Output bytes do not depend on the order.
    for (size_t j = 0; j < order_.size(); ++j) order_[j] = j;
    auto cost = [&](size_t j) { return plan_.jobs[j].call.numel() * static_cast<int64_t>(plan_.jobs[j].call.size()); };
    std::stable_sort(order_.begin(), order_.end(), [&](size_t a, size_t b) { return cost(a) > cost(b); });
  }

  ExecStats go() {
    auto start = std::chrono::steady_clock::now();
    int n = std::max(1, opt_.threads);
    if (opt_.writer_thread)
      writer_ = std::make_unique<WriteQueue>(kWriteQueueBytes, [this](std::exception_ptr e) { record(e); },
                                             opt_.early_write_back ? opt_.write_back_bytes : 0,
                                             opt_.flush_every_bytes, opt_.drop_output_pages);
    std::vector<std::thread> threads;
    for (int i = 1; i < n; ++i) threads.emplace_back([this] { work(); });
    work();
    for (auto& t : threads) t.join();
    ExecStats s;
    if (writer_) {
      if (stopping())
        writer_->abandon();
      else
        writer_->finish();
      s.hand_overs = writer_->hand_overs();
      s.flushes = writer_->flushes();
    }
    pages_.finish();  // after the writer, which releases the inputs of byte copies
    if (error_) std::rethrow_exception(error_);
    if (opt_.cancel && opt_.cancel->load()) fail("interrupted");
    s.bytes_written = written_.load();
    s.bytes_read = plan_.input_bytes;
    s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return s;
  }

 private:
  struct Scratch {
    std::vector<std::vector<float>> inputs;
    std::vector<const float*> pointers;
    std::vector<float> out;
    std::vector<unsigned char> bytes;
    std::vector<unsigned char> reorder;  // to_rotary_order's
  };

  bool stopping() const { return error_flag_.load() || (opt_.cancel && opt_.cancel->load()); }

  void work() {
    Scratch scratch;
    try {
      while (!stopping()) {
        std::optional<Block> block;
        std::optional<size_t> job, next;
        {
          std::unique_lock lock(mu_);
          if (!blocks_.empty()) {
            block = blocks_.front();
            blocks_.pop_front();
          } else if (next_job_ < plan_.jobs.size()) {
            job = order_[next_job_++];
            if (next_job_ < order_.size()) next = order_[next_job_];
          } else if (preparing_ > 0) {
            cv_.wait(lock);  // a job being prepared may still publish blocks
            continue;
          } else {
            return;
          }
          if (job) ++preparing_;
        }
        if (block) {
          run_block(*block, scratch);
        } else {
          if (next) prefetch(*next);
          start_job(*job, scratch);
        }
      }
    } catch (...) {
      record(std::current_exception());
    }
  }

  // The first failure wins; everyone stops.
  void record(std::exception_ptr e) {
    std::lock_guard lock(mu_);
    if (!error_) error_ = e;
    error_flag_ = true;
    cv_.notify_all();
  }

  // Writes [data, data + size) at `offset` of job j's shard, on the writer thread when there is
  // one (`bytes` owned, or `borrowed` bytes that outlive the run), then counts the bytes and, for
  // the job's last write, finishes the job.
  void write(size_t j, uint64_t offset, std::vector<unsigned char>* bytes, const std::byte* borrowed,
             uint64_t size) {
    const int fd = fds_[layout_.placements[j].shard];
    auto done = [this, j, size] {
      written_ += size;
      if (--pending_[j] == 0) finish_job(j);
      report();
    };
    if (!writer_) {
      write_fully(fd, bytes ? bytes->data() : static_cast<const void*>(borrowed), size, offset, where(j));
      done();
      return;
    }
    WriteQueue::Write w;
    w.fd = fd;
    w.offset = offset;
    if (bytes) {
      w.bytes = std::move(*bytes);
      *bytes = writer_->take_buffer();
    } else {
      w.borrowed = borrowed;
      w.borrowed_size = size;
    }
    w.what = where(j);
    w.done = std::move(done);
    writer_->push(std::move(w));  // false only once the run is failing
  }

  void start_job(size_t j, Scratch& scratch) {
    struct Done {
      Run* run;
      ~Done() {
        std::lock_guard lock(run->mu_);
        --run->preparing_;
        run->cv_.notify_all();
      }
    } done{this};
    const TensorJob& job = plan_.jobs[j];
    const MergeCall& call = calls_[j];
    const TensorPlacement& place = layout_.placements[j];
    if (!job.method) {  // byte copy
      const auto& v = call.inputs[0].view;
      pending_[j] = 1;
      write(j, place.file_offset, nullptr, v.data, v.nbytes);
      return;
    }
    try {
      kernels_[j] = job.method->prepare(call);
    } catch (const Error& e) {
      throw;
    } catch (const std::exception& e) {
      fail(call.where(), ": ", e.what());
    }
    const int64_t rows = call.rows();
    const int64_t cols = call.cols();
    if (rows == 0 || cols == 0) {
      finish_job(j);
      return;
    }
    const int64_t rows_per_block = block_rows(j);
    const int64_t n_blocks = (rows + rows_per_block - 1) / rows_per_block;
    pending_[j] = n_blocks;
    uncomputed_[j] = n_blocks;
    // Keep the first block for this thread; publish the rest.
    {
      std::lock_guard lock(mu_);
      for (int64_t b = 1; b < n_blocks; ++b)
        blocks_.push_back({j, b * rows_per_block, std::min(rows, (b + 1) * rows_per_block)});
      cv_.notify_all();
    }
    run_block({j, 0, std::min(rows, rows_per_block)}, scratch);
  }

  static constexpr int64_t kReleaseBlocks = 32;

  // Computes the block's rows chunk by chunk (inputs, kernel and output conversion stay in cache)
  // into one byte buffer, then writes it with one call.
  void run_block(const Block& b, Scratch& s) {
    const TensorJob& job = plan_.jobs[b.job];
    const MergeCall& call = calls_[b.job];
    const int64_t cols = call.cols();
    const RowEncoding encoding(job.out.dtype, layout_.placements[b.job], cols);
    const uint64_t row_bytes = encoding.row_bytes();
    const int64_t rows_per_chunk = std::max<int64_t>(1, opt_.chunk_elements / cols);
    s.inputs.resize(call.size());
    s.pointers.resize(call.size());
    s.bytes.resize(static_cast<size_t>(b.row_end - b.row_begin) * row_bytes);
    for (int64_t r = b.row_begin; r < b.row_end; r += rows_per_chunk) {
      const int64_t r_end = std::min(b.row_end, r + rows_per_chunk);
      const size_t n = static_cast<size_t>((r_end - r) * cols);
      for (size_t i = 0; i < call.size(); ++i) {
        s.inputs[i].resize(n);
        call.read_rows(i, r, r_end, s.inputs[i].data());
        s.pointers[i] = s.inputs[i].data();
      }
      s.out.resize(n);
      RowBlock block{r, r_end, cols, s.pointers};
      kernels_[b.job]->map(block, s.out.data());
      encoding.encode(s.out.data(), r_end - r, s.bytes.data() + static_cast<size_t>(r - b.row_begin) * row_bytes);
    }
    if (encoding.rotary_group_rows > 0)
      to_rotary_order(s.bytes.data(), b.row_end - b.row_begin, row_bytes, encoding.rotary_group_rows, s.reorder);
    // Every kReleaseBlocks blocks, release the input pages of the kReleaseBlocks blocks before the
    // previous ones (done by now, or nearly: releasing pages still read only costs a minor fault).
    // Releasing costs a TLB shootdown on every core, so not per block.
    const int64_t rows_per_block = block_rows(b.job);
    const int64_t index = b.row_begin / rows_per_block;
    if (index % kReleaseBlocks == 0 && index >= 2 * kReleaseBlocks)
      for (size_t i = 0; i < call.size(); ++i)
        pages_.release(call.inputs[i].view, (index - 2 * kReleaseBlocks) * rows_per_block,
                       (index - kReleaseBlocks) * rows_per_block, true);
    if (--uncomputed_[b.job] == 0) release_inputs(b.job);
    const uint64_t size = s.bytes.size();
    write(b.job, layout_.placements[b.job].file_offset + static_cast<uint64_t>(b.row_begin) * row_bytes, &s.bytes,
          nullptr, size);
  }

  // Lets job j's input pages leave this process's resident set (and the page cache, with
  // drop_input_pages). Done once its last block is computed, not once written: the compute
  // threads run ahead of the writer through the small tensors a merge ends with, each mapping a
  // 2 MB folio per input.
  void release_inputs(size_t j) const {
    const MergeCall& call = calls_[j];
    for (const MergeInput& in : call.inputs) {
      // The rows run_block queued already are not queued again: a whole tensor queued at its end
      // would count as lag and drop at once the rows of other tensors read moments before.
      const int64_t from = pages_.dropping_after_read(in.view) && plan_.jobs[j].method ? queued_rows(j) : 0;
      pages_.release(in.view, 0, from, false);
      pages_.release(in.view, from, in.view.rows(), true);
    }
  }

  // The rows of a tensor whose drops run_block queued: [0, (m - kReleaseBlocks) * rows_per_block)
  // for the last multiple m of kReleaseBlocks among its block indices, when m >= 2 * kReleaseBlocks.
  int64_t queued_rows(size_t j) const {
    const MergeCall& call = calls_[j];
    const int64_t cols = call.cols(), rows = call.rows();
    if (cols == 0 || rows == 0) return 0;
    const int64_t rows_per_block = block_rows(j);
    const int64_t last = (rows + rows_per_block - 1) / rows_per_block - 1;
    const int64_t m = last / kReleaseBlocks * kReleaseBlocks;
    return m >= 2 * kReleaseBlocks ? (m - kReleaseBlocks) * rows_per_block : 0;
  }

  // Rows per work block of job j (cols > 0): about block_elements, whole rotary groups.
  int64_t block_rows(size_t j) const {
    const RowEncoding encoding(plan_.jobs[j].out.dtype, layout_.placements[j], calls_[j].cols());
    return encoding.rows_per_block(opt_.block_elements / calls_[j].cols());
  }

  // A tensor is written: free its prepared state, release the input pages of a byte copy (read
  // by the writer), and start writing its bytes back to disk.
  void finish_job(size_t j) {
    kernels_[j].reset();
    if (!plan_.jobs[j].method) release_inputs(j);
    if (opt_.early_write_back && !writer_) {  // the writer hands 8 MB ranges over as it goes
      const TensorPlacement& place = layout_.placements[j];
      ::sync_file_range(fds_[place.shard], static_cast<off_t>(place.file_offset),
                        static_cast<off_t>(place.nbytes), SYNC_FILE_RANGE_WRITE);
    }
  }

  // Starts reading job j's inputs from disk (a no-op for pages already cached).
  void prefetch(size_t j) const {
    for (const auto& in : calls_[j].inputs) pages_.prefetch(in.view);
  }

  std::string where(size_t j) const {
    return "output " + layout_.shards[layout_.placements[j].shard].file_name + ", tensor '" +
           plan_.jobs[j].out.name + "'";
  }

  void report() {
    if (opt_.progress) opt_.progress(written_.load(), layout_.total_tensor_bytes);
  }

  const MergePlan& plan_;
  const OutputLayout& layout_;
  const std::vector<int>& fds_;
  const ExecOptions& opt_;
  std::vector<std::unique_ptr<MergeKernel>> kernels_;
  std::vector<std::atomic<int64_t>> pending_;     // writes not yet made, per job
  std::vector<std::atomic<int64_t>> uncomputed_;  // blocks not yet computed, per job
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Block> blocks_;
  std::vector<size_t> order_;  // jobs in the order they are started
  size_t next_job_ = 0;
  int preparing_ = 0;
  std::exception_ptr error_;
  std::atomic<bool> error_flag_{false};
  std::atomic<uint64_t> written_{0};
  static constexpr uint64_t kWriteQueueBytes = uint64_t{8} << 20;  // output queued at most
  InputPages pages_;
  std::vector<MergeCall> calls_;  // plan_.jobs' calls, telling pages_ the rows their passes are done with
  std::unique_ptr<WriteQueue> writer_;  // last member: its thread stops before the rest goes
};

}  // namespace

ExecStats execute(const MergePlan& plan, const OutputLayout& layout, const std::vector<int>& shard_fds,
                  const ExecOptions& options) {
  return Run(plan, layout, shard_fds, options).go();
}

}  // namespace alloy
